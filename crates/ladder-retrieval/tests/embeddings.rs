//! The fastembed embedder against an independent reference.
//!
//! How the references are made: `reference()` below is a plain-Rust BERT forward pass
//! (naive loops in f64, no ONNX Runtime, no graph) over the same safetensors weights and the
//! same tokenizer, followed by mean pooling and L2 normalisation, as sentence-transformers
//! defines all-MiniLM-L6-v2. It shares nothing with the ONNX graph that ladder builds and
//! ONNX Runtime executes, so agreement checks that graph.

use std::sync::OnceLock;

use ladder_core::{cosine, Embedder};
use ladder_retrieval::{EmbedConfig, FastEmbedder};
use safetensors::SafeTensors;

const SENTENCES: [&str; 20] = [
    "The capital of France is Paris.",
    "Paris is the capital city of France.",
    "A quiet seaside village with white chalk cliffs.",
    "How do I return a lamp I bought last week?",
    "Refunds are paid within five business days.",
    "The tide clock shows the height of the tide.",
    "My order has not arrived yet.",
    "Standard delivery costs four euros ninety-five.",
    "Surfing and kayaking are popular in summer.",
    "The lighthouse keeper counted the boats every evening.",
    "Quantum chromodynamics describes the strong interaction.",
    "I would like to go to the seaside next week.",
    "Bananas are rich in potassium.",
    "The train from Ostby takes three hours.",
    "Pairing fails unless you hold the button for eight seconds.",
    "She plays the glass harp beautifully.",
    "Which firmware version should my lamp be on?",
    "a",
    "Ein kurzer deutscher Satz mit Umlauten: Größe, Übung.",
    "Numbers like 3.14159 and 2026 appear here, with punctuation!?",
];

fn embedder() -> &'static FastEmbedder {
    static E: OnceLock<FastEmbedder> = OnceLock::new();
    E.get_or_init(|| {
        FastEmbedder::load_default()
            .unwrap_or_else(|e| panic!("the embedding model must be installed (`just setup`): {e}"))
    })
}

fn erf(x: f64) -> f64 {
    // Abramowitz and Stegun 7.1.26 (absolute error below 1.5e-7).
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
    let y = 1.0
        - (((((1.061_405_429 * t - 1.453_152_027) * t) + 1.421_413_741) * t - 0.284_496_736) * t
            + 0.254_829_592)
            * t
            * (-x * x).exp();
    if x >= 0.0 {
        y
    } else {
        -y
    }
}

struct Bert<'a> {
    st: SafeTensors<'a>,
}

impl Bert<'_> {
    fn t(&self, name: &str) -> Vec<f64> {
        let t = self.st.tensor(name).unwrap();
        t.data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64)
            .collect()
    }

    fn linear(&self, x: &[Vec<f64>], name: &str, out: usize) -> Vec<Vec<f64>> {
        let w = self.t(&format!("{name}.weight"));
        let b = self.t(&format!("{name}.bias"));
        let inp = x[0].len();
        x.iter()
            .map(|row| {
                (0..out)
                    .map(|o| b[o] + (0..inp).map(|i| w[o * inp + i] * row[i]).sum::<f64>())
                    .collect()
            })
            .collect()
    }

    fn layer_norm(&self, x: &mut [Vec<f64>], name: &str) {
        let g = self.t(&format!("{name}.weight"));
        let b = self.t(&format!("{name}.bias"));
        for row in x.iter_mut() {
            let n = row.len() as f64;
            let mean = row.iter().sum::<f64>() / n;
            let var = row.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
            for (i, v) in row.iter_mut().enumerate() {
                *v = (*v - mean) / (var + 1e-12).sqrt() * g[i] + b[i];
            }
        }
    }
}

fn reference(bert: &Bert, tok: &tokenizers::Tokenizer, text: &str) -> Vec<f32> {
    let enc = tok.encode(text, true).unwrap();
    let ids = enc.get_ids();
    let types = enc.get_type_ids();
    let (h, heads) = (384, 12);
    let hd = h / heads;
    let word = bert.t("embeddings.word_embeddings.weight");
    let pos = bert.t("embeddings.position_embeddings.weight");
    let typ = bert.t("embeddings.token_type_embeddings.weight");
    let mut x: Vec<Vec<f64>> = ids
        .iter()
        .enumerate()
        .map(|(p, &id)| {
            (0..h)
                .map(|i| {
                    word[id as usize * h + i] + pos[p * h + i] + typ[types[p] as usize * h + i]
                })
                .collect()
        })
        .collect();
    bert.layer_norm(&mut x, "embeddings.LayerNorm");
    let n = x.len();
    for l in 0..6 {
        let p = |s: &str| format!("encoder.layer.{l}.{s}");
        let q = bert.linear(&x, &p("attention.self.query"), h);
        let k = bert.linear(&x, &p("attention.self.key"), h);
        let v = bert.linear(&x, &p("attention.self.value"), h);
        let mut ctx = vec![vec![0.0; h]; n];
        for head in 0..heads {
            let r = head * hd..(head + 1) * hd;
            for i in 0..n {
                let scores: Vec<f64> = (0..n)
                    .map(|j| r.clone().map(|d| q[i][d] * k[j][d]).sum::<f64>() / (hd as f64).sqrt())
                    .collect();
                let max = scores.iter().cloned().fold(f64::MIN, f64::max);
                let exps: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
                let sum: f64 = exps.iter().sum();
                for d in r.clone() {
                    ctx[i][d] = (0..n).map(|j| exps[j] / sum * v[j][d]).sum();
                }
            }
        }
        let attn = bert.linear(&ctx, &p("attention.output.dense"), h);
        let mut h1: Vec<Vec<f64>> = attn
            .iter()
            .zip(&x)
            .map(|(a, b)| a.iter().zip(b).map(|(u, w)| u + w).collect())
            .collect();
        bert.layer_norm(&mut h1, &p("attention.output.LayerNorm"));
        let mut inter = bert.linear(&h1, &p("intermediate.dense"), 1536);
        for row in inter.iter_mut() {
            for v in row.iter_mut() {
                *v = 0.5 * *v * (1.0 + erf(*v / std::f64::consts::SQRT_2));
            }
        }
        let out = bert.linear(&inter, &p("output.dense"), h);
        let mut h2: Vec<Vec<f64>> = out
            .iter()
            .zip(&h1)
            .map(|(a, b)| a.iter().zip(b).map(|(u, w)| u + w).collect())
            .collect();
        bert.layer_norm(&mut h2, &p("output.LayerNorm"));
        x = h2;
    }
    let mean: Vec<f64> = (0..h)
        .map(|i| x.iter().map(|r| r[i]).sum::<f64>() / n as f64)
        .collect();
    let norm = mean.iter().map(|v| v * v).sum::<f64>().sqrt();
    mean.iter().map(|v| (v / norm) as f32).collect()
}

#[test]
fn vectors_match_an_independent_bert_implementation() {
    let dir = EmbedConfig::default().model_dir;
    let bytes = std::fs::read(dir.join("model.safetensors")).unwrap();
    let bert = Bert {
        st: SafeTensors::deserialize(&bytes).unwrap(),
    };
    let mut tok = tokenizers::Tokenizer::from_file(dir.join("tokenizer.json")).unwrap();
    // tokenizer.json pads every text to 128 tokens; the reference works on the real tokens
    // only (as attention masking does), so padding is switched off.
    tok.with_padding(None);
    let texts: Vec<String> = SENTENCES.iter().map(|s| s.to_string()).collect();
    let ours = embedder().embed(&texts).unwrap();
    assert_eq!(ours.len(), 20);
    for (s, v) in SENTENCES.iter().zip(&ours) {
        assert_eq!(v.len(), 384);
        let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "{s}: norm {norm}");
        let c = cosine(v, &reference(&bert, &tok, s));
        assert!(c >= 0.999, "{s:?}: cosine {c} against the reference");
    }
}

#[test]
fn a_paraphrase_scores_above_an_unrelated_sentence() {
    let texts: Vec<String> = [SENTENCES[0], SENTENCES[1], SENTENCES[12], SENTENCES[10]]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let v = embedder().embed(&texts).unwrap();
    let para = cosine(&v[0], &v[1]);
    assert!(para > 0.8, "{para}");
    assert!(para > cosine(&v[0], &v[2]) + 0.3);
    assert!(para > cosine(&v[0], &v[3]) + 0.3);
}

#[test]
fn batches_give_the_same_vectors_as_single_texts() {
    let texts: Vec<String> = SENTENCES[..5].iter().map(|s| s.to_string()).collect();
    let batch = embedder().embed(&texts).unwrap();
    for (t, b) in texts.iter().zip(&batch) {
        let one = embedder().embed(std::slice::from_ref(t)).unwrap();
        assert!(cosine(&one[0], b) > 0.99999, "{t}");
    }
}

#[test]
fn missing_files_say_to_run_setup() {
    let dir = tempfile::tempdir().unwrap();
    let c = EmbedConfig {
        model_dir: dir.path().to_path_buf(),
        ..Default::default()
    };
    let e = FastEmbedder::load(&c).err().unwrap().to_string();
    assert!(
        e.contains("just setup") && e.contains("tokenizer.json"),
        "{e}"
    );
    let c = EmbedConfig {
        ort_library: dir.path().join("libonnxruntime.so.1.32.0"),
        ..Default::default()
    };
    let e = FastEmbedder::load(&c).err().unwrap().to_string();
    assert!(
        e.contains("just setup") && e.contains("ONNX Runtime"),
        "{e}"
    );
}
