//! Writes an ONNX graph of a BERT encoder (all-MiniLM-L6-v2) from its safetensors weights.
//!
//! The model ships as safetensors only; ONNX Runtime needs a graph. This module builds one
//! with a small protobuf encoder (no protobuf or ONNX library): inputs `input_ids`,
//! `attention_mask`, `token_type_ids` (int64, [batch, seq]); output `last_hidden_state`
//! (float, [batch, seq, hidden]). Pooling and normalisation happen in fastembed.
//!
//! Invariants:
//! - Linear weights are stored transposed ([in, out]) so every projection is one MatMul.
//! - Position embeddings are *sliced* to the sequence length, not gathered over a Range:
//!   a Gather over Range breaks an ONNX Runtime optimisation pass.
//! - Opset 17 (LayerNormalization is a single op), IR version 8.

use safetensors::{Dtype, SafeTensors};

/// The shape of a BERT encoder, from its `config.json`.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct BertConfig {
    pub hidden_size: usize,
    pub num_attention_heads: usize,
    pub num_hidden_layers: usize,
    pub intermediate_size: usize,
    pub layer_norm_eps: f64,
    pub max_position_embeddings: usize,
    #[serde(default)]
    pub hidden_act: String,
}

#[derive(Debug, thiserror::Error)]
pub enum OnnxError {
    #[error("the weights are not a readable safetensors file: {0}")]
    Safetensors(String),
    #[error("tensor {name} is missing from the weights")]
    Missing { name: String },
    #[error("tensor {name} has shape {got:?}, expected {expected:?}")]
    Shape {
        name: String,
        got: Vec<usize>,
        expected: Vec<usize>,
    },
    #[error("tensor {name} is {dtype:?}; only F32 weights are supported")]
    Dtype { name: String, dtype: String },
    #[error("unsupported activation {0:?}; only gelu is supported")]
    Activation(String),
}

// ---- a minimal protobuf writer -------------------------------------------------------

#[derive(Default)]
struct Pb(Vec<u8>);

impl Pb {
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }
    fn key(&mut self, field: u32, wire: u8) {
        self.varint(u64::from(field) << 3 | u64::from(wire));
    }
    fn int(&mut self, field: u32, v: i64) -> &mut Self {
        self.key(field, 0);
        self.varint(v as u64);
        self
    }
    fn float(&mut self, field: u32, v: f32) -> &mut Self {
        self.key(field, 5);
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn bytes(&mut self, field: u32, data: &[u8]) -> &mut Self {
        self.key(field, 2);
        self.varint(data.len() as u64);
        self.0.extend_from_slice(data);
        self
    }
    fn str(&mut self, field: u32, s: &str) -> &mut Self {
        self.bytes(field, s.as_bytes())
    }
    fn msg(&mut self, field: u32, m: &Pb) -> &mut Self {
        self.bytes(field, &m.0)
    }
}

const FLOAT: i64 = 1;
const INT64: i64 = 7;

enum Attr {
    Int(&'static str, i64),
    Float(&'static str, f32),
    Ints(&'static str, Vec<i64>),
}

fn attribute(a: &Attr) -> Pb {
    let mut p = Pb::default();
    match a {
        Attr::Int(name, v) => {
            p.str(1, name).int(3, *v).int(20, 2);
        }
        Attr::Float(name, v) => {
            p.str(1, name).float(2, *v).int(20, 1);
        }
        Attr::Ints(name, vs) => {
            p.str(1, name);
            for v in vs {
                p.int(8, *v);
            }
            p.int(20, 7);
        }
    }
    p
}

fn value_info(name: &str, elem: i64, dims: &[&str]) -> Pb {
    let mut shape = Pb::default();
    for d in dims {
        let mut dim = Pb::default();
        match d.parse::<i64>() {
            Ok(v) => dim.int(1, v),
            Err(_) => dim.str(2, d),
        };
        shape.msg(1, &dim);
    }
    let mut tensor = Pb::default();
    tensor.int(1, elem).msg(2, &shape);
    let mut ty = Pb::default();
    ty.msg(1, &tensor);
    let mut vi = Pb::default();
    vi.str(1, name).msg(2, &ty);
    vi
}

/// A graph under construction.
struct Graph {
    nodes: Vec<Pb>,
    initializers: Vec<Pb>,
    counter: usize,
}

impl Graph {
    fn fresh(&mut self, hint: &str) -> String {
        self.counter += 1;
        format!("{hint}_{}", self.counter)
    }

    fn init(&mut self, name: &str, elem: i64, dims: &[usize], raw: &[u8]) -> String {
        let mut t = Pb::default();
        for d in dims {
            t.int(1, *d as i64);
        }
        t.int(2, elem).str(8, name).bytes(9, raw);
        self.initializers.push(t);
        name.to_string()
    }

    fn floats(&mut self, name: &str, dims: &[usize], values: &[f32]) -> String {
        let raw: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.init(name, FLOAT, dims, &raw)
    }

    fn ints(&mut self, name: &str, values: &[i64]) -> String {
        let raw: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.init(name, INT64, &[values.len()], &raw)
    }

    fn scalar(&mut self, name: &str, v: f32) -> String {
        self.init(name, FLOAT, &[], &v.to_le_bytes())
    }

    fn node(&mut self, op: &str, inputs: &[&str], attrs: &[Attr]) -> String {
        let out = self.fresh(&op.to_lowercase());
        self.node_to(op, inputs, attrs, &out);
        out
    }

    fn node_to(&mut self, op: &str, inputs: &[&str], attrs: &[Attr], out: &str) {
        let mut n = Pb::default();
        for i in inputs {
            n.str(1, i);
        }
        n.str(2, out).str(3, out).str(4, op);
        for a in attrs {
            n.msg(5, &attribute(a));
        }
        self.nodes.push(n);
    }
}

// ---- weights ---------------------------------------------------------------------------

struct Weights<'a> {
    st: SafeTensors<'a>,
    prefix: String,
}

impl Weights<'_> {
    fn get(&self, name: &str, expected: &[usize]) -> Result<Vec<f32>, OnnxError> {
        let full = format!("{}{name}", self.prefix);
        let t = self
            .st
            .tensor(&full)
            .map_err(|_| OnnxError::Missing { name: full.clone() })?;
        if t.dtype() != Dtype::F32 {
            return Err(OnnxError::Dtype {
                name: full,
                dtype: format!("{:?}", t.dtype()),
            });
        }
        if t.shape() != expected {
            return Err(OnnxError::Shape {
                name: full,
                got: t.shape().to_vec(),
                expected: expected.to_vec(),
            });
        }
        Ok(t.data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect())
    }

    /// A linear layer's weight ([out, in] in the file) transposed to [in, out].
    fn linear_t(&self, name: &str, out_dim: usize, in_dim: usize) -> Result<Vec<f32>, OnnxError> {
        let w = self.get(name, &[out_dim, in_dim])?;
        let mut t = vec![0f32; w.len()];
        for o in 0..out_dim {
            for i in 0..in_dim {
                t[i * out_dim + o] = w[o * in_dim + i];
            }
        }
        Ok(t)
    }
}

/// Build the ONNX model bytes from safetensors bytes and the BERT config.
pub fn bert_to_onnx(safetensors: &[u8], config: &BertConfig) -> Result<Vec<u8>, OnnxError> {
    if !config.hidden_act.is_empty() && config.hidden_act != "gelu" {
        return Err(OnnxError::Activation(config.hidden_act.clone()));
    }
    let st =
        SafeTensors::deserialize(safetensors).map_err(|e| OnnxError::Safetensors(e.to_string()))?;
    let prefix = if st.names().iter().any(|n| n.starts_with("bert.")) {
        "bert."
    } else {
        ""
    };
    let w = Weights {
        st,
        prefix: prefix.to_string(),
    };
    let (h, heads, inter) = (
        config.hidden_size,
        config.num_attention_heads,
        config.intermediate_size,
    );
    let head_dim = h / heads;
    let eps = config.layer_norm_eps as f32;
    let vocab =
        w.st.tensor(&format!("{prefix}embeddings.word_embeddings.weight"))
            .map_err(|_| OnnxError::Missing {
                name: format!("{prefix}embeddings.word_embeddings.weight"),
            })?
            .shape()[0];
    let types =
        w.st.tensor(&format!("{prefix}embeddings.token_type_embeddings.weight"))
            .map_err(|_| OnnxError::Missing {
                name: format!("{prefix}embeddings.token_type_embeddings.weight"),
            })?
            .shape()[0];

    let mut g = Graph {
        nodes: vec![],
        initializers: vec![],
        counter: 0,
    };
    // Embeddings.
    let word = g.floats(
        "word_embeddings",
        &[vocab, h],
        &w.get("embeddings.word_embeddings.weight", &[vocab, h])?,
    );
    let pos_table = g.floats(
        "position_embeddings",
        &[config.max_position_embeddings, h],
        &w.get(
            "embeddings.position_embeddings.weight",
            &[config.max_position_embeddings, h],
        )?,
    );
    let type_table = g.floats(
        "token_type_embeddings",
        &[types, h],
        &w.get("embeddings.token_type_embeddings.weight", &[types, h])?,
    );
    let zero = g.ints("const_zero", &[0]);
    let one = g.ints("const_one", &[1]);
    let two = g.ints("const_two", &[2]);
    let shape = g.node("Shape", &["input_ids"], &[]);
    let seq_len = g.node("Slice", &[&shape, &one, &two, &zero], &[]);
    let positions = g.node("Slice", &[&pos_table, &zero, &seq_len, &zero], &[]);
    let words = g.node("Gather", &[&word, "input_ids"], &[]);
    let type_emb = g.node("Gather", &[&type_table, "token_type_ids"], &[]);
    let sum = g.node("Add", &[&words, &positions], &[]);
    let sum = g.node("Add", &[&sum, &type_emb], &[]);
    let ln_w = g.floats(
        "emb_ln_w",
        &[h],
        &w.get("embeddings.LayerNorm.weight", &[h])?,
    );
    let ln_b = g.floats("emb_ln_b", &[h], &w.get("embeddings.LayerNorm.bias", &[h])?);
    let mut hidden = g.node(
        "LayerNormalization",
        &[&sum, &ln_w, &ln_b],
        &[Attr::Int("axis", -1), Attr::Float("epsilon", eps)],
    );

    // Attention mask: 0 where attended, -10000 where padded; shape [batch, 1, 1, seq].
    let mask_f = g.node("Cast", &["attention_mask"], &[Attr::Int("to", FLOAT)]);
    let axes12 = g.ints("const_axes_1_2", &[1, 2]);
    let mask4 = g.node("Unsqueeze", &[&mask_f, &axes12], &[]);
    let one_f = g.scalar("const_one_f", 1.0);
    let inverted = g.node("Sub", &[&one_f, &mask4], &[]);
    let big_neg = g.scalar("const_mask_value", -10000.0);
    let mask_add = g.node("Mul", &[&inverted, &big_neg], &[]);
    let split_shape = g.ints("const_split_heads", &[0, 0, heads as i64, head_dim as i64]);
    let merge_shape = g.ints("const_merge_heads", &[0, 0, h as i64]);
    let scale = g.scalar("const_attn_scale", 1.0 / (head_dim as f32).sqrt());
    let sqrt2 = g.scalar("const_sqrt2", std::f32::consts::SQRT_2);
    let half = g.scalar("const_half", 0.5);

    for l in 0..config.num_hidden_layers {
        let p = |s: &str| format!("encoder.layer.{l}.{s}");
        let linear = |g: &mut Graph,
                      x: &str,
                      name: &str,
                      out_dim: usize,
                      in_dim: usize|
         -> Result<String, OnnxError> {
            let wt = g.floats(
                &format!("l{l}_{name}_w"),
                &[in_dim, out_dim],
                &w.linear_t(&p(&format!("{name}.weight")), out_dim, in_dim)?,
            );
            let b = g.floats(
                &format!("l{l}_{name}_b"),
                &[out_dim],
                &w.get(&p(&format!("{name}.bias")), &[out_dim])?,
            );
            let m = g.node("MatMul", &[x, &wt], &[]);
            Ok(g.node("Add", &[&m, &b], &[]))
        };
        let q = linear(&mut g, &hidden, "attention.self.query", h, h)?;
        let k = linear(&mut g, &hidden, "attention.self.key", h, h)?;
        let v = linear(&mut g, &hidden, "attention.self.value", h, h)?;
        let q = g.node("Reshape", &[&q, &split_shape], &[]);
        let q = g.node("Transpose", &[&q], &[Attr::Ints("perm", vec![0, 2, 1, 3])]);
        let k = g.node("Reshape", &[&k, &split_shape], &[]);
        let k = g.node("Transpose", &[&k], &[Attr::Ints("perm", vec![0, 2, 3, 1])]);
        let v = g.node("Reshape", &[&v, &split_shape], &[]);
        let v = g.node("Transpose", &[&v], &[Attr::Ints("perm", vec![0, 2, 1, 3])]);
        let scores = g.node("MatMul", &[&q, &k], &[]);
        let scores = g.node("Mul", &[&scores, &scale], &[]);
        let scores = g.node("Add", &[&scores, &mask_add], &[]);
        let probs = g.node("Softmax", &[&scores], &[Attr::Int("axis", -1)]);
        let ctx = g.node("MatMul", &[&probs, &v], &[]);
        let ctx = g.node(
            "Transpose",
            &[&ctx],
            &[Attr::Ints("perm", vec![0, 2, 1, 3])],
        );
        let ctx = g.node("Reshape", &[&ctx, &merge_shape], &[]);
        let attn = linear(&mut g, &ctx, "attention.output.dense", h, h)?;
        let res = g.node("Add", &[&attn, &hidden], &[]);
        let ln1_w = g.floats(
            &format!("l{l}_ln1_w"),
            &[h],
            &w.get(&p("attention.output.LayerNorm.weight"), &[h])?,
        );
        let ln1_b = g.floats(
            &format!("l{l}_ln1_b"),
            &[h],
            &w.get(&p("attention.output.LayerNorm.bias"), &[h])?,
        );
        let h1 = g.node(
            "LayerNormalization",
            &[&res, &ln1_w, &ln1_b],
            &[Attr::Int("axis", -1), Attr::Float("epsilon", eps)],
        );
        // Feed-forward with exact GELU: x * 0.5 * (1 + erf(x / sqrt(2))).
        let x = linear(&mut g, &h1, "intermediate.dense", inter, h)?;
        let xs = g.node("Div", &[&x, &sqrt2], &[]);
        let erf = g.node("Erf", &[&xs], &[]);
        let erf1 = g.node("Add", &[&erf, &one_f], &[]);
        let gx = g.node("Mul", &[&x, &erf1], &[]);
        let gelu = g.node("Mul", &[&gx, &half], &[]);
        let out = linear(&mut g, &gelu, "output.dense", h, inter)?;
        let res2 = g.node("Add", &[&out, &h1], &[]);
        let ln2_w = g.floats(
            &format!("l{l}_ln2_w"),
            &[h],
            &w.get(&p("output.LayerNorm.weight"), &[h])?,
        );
        let ln2_b = g.floats(
            &format!("l{l}_ln2_b"),
            &[h],
            &w.get(&p("output.LayerNorm.bias"), &[h])?,
        );
        hidden = if l + 1 == config.num_hidden_layers {
            g.node_to(
                "LayerNormalization",
                &[&res2, &ln2_w, &ln2_b],
                &[Attr::Int("axis", -1), Attr::Float("epsilon", eps)],
                "last_hidden_state",
            );
            "last_hidden_state".to_string()
        } else {
            g.node(
                "LayerNormalization",
                &[&res2, &ln2_w, &ln2_b],
                &[Attr::Int("axis", -1), Attr::Float("epsilon", eps)],
            )
        };
    }

    let mut graph = Pb::default();
    for n in &g.nodes {
        graph.msg(1, n);
    }
    graph.str(2, "bert");
    for t in &g.initializers {
        graph.msg(5, t);
    }
    for input in ["input_ids", "attention_mask", "token_type_ids"] {
        graph.msg(11, &value_info(input, INT64, &["batch", "sequence"]));
    }
    let hs = h.to_string();
    graph.msg(12, &value_info(&hidden, FLOAT, &["batch", "sequence", &hs]));

    let mut opset = Pb::default();
    opset.str(1, "").int(2, 17);
    let mut model = Pb::default();
    model
        .int(1, 8)
        .str(2, "ladder")
        .msg(7, &graph)
        .msg(8, &opset);
    Ok(model.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_encode_like_protobuf() {
        let mut p = Pb::default();
        p.varint(1);
        p.varint(300);
        assert_eq!(p.0, vec![0x01, 0xAC, 0x02]);
        let mut p = Pb::default();
        p.int(1, 8);
        assert_eq!(p.0, vec![0x08, 0x08]);
        let mut p = Pb::default();
        p.int(3, -1);
        assert_eq!(p.0.len(), 11, "negative int64 takes ten varint bytes");
    }
}
