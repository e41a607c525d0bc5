//! Cassettes: what a run asks of a model is recorded and replayed exactly, with no model.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use ladder_core::{
    ChatRequest, ChatResponse, FinishReason, LanguageModel, Message, ModelError, ModelInfo,
    TokenCount, TokenSink, Usage,
};
use ladder_model::{Recorder, Replayer};

/// A non-deterministic backend: every answer is different. Test code only.
struct Counter(AtomicU64);

#[async_trait]
impl LanguageModel for Counter {
    fn info(&self) -> ModelInfo {
        ModelInfo {
            endpoint: Some("http://127.0.0.1:1234/v1".into()),
            ..ModelInfo::new("openai", "counter")
        }
    }
    fn context_window(&self) -> u64 {
        2048
    }
    fn count_tokens(&self, m: &[Message]) -> Result<TokenCount, ModelError> {
        Ok(TokenCount {
            tokens: 7 * m.len() as u64,
            estimated: true,
        })
    }
    async fn chat(
        &self,
        _: &ChatRequest,
        _: Option<TokenSink>,
    ) -> Result<ChatResponse, ModelError> {
        let n = self.0.fetch_add(1, Ordering::SeqCst);
        Ok(ChatResponse {
            text: format!("answer {n}"),
            finish: FinishReason::Stop,
            usage: Usage::default(),
            prompt_ms: 0.0,
            generation_ms: 0.0,
            total_ms: 0.0,
        })
    }
}

#[tokio::test]
async fn repeated_requests_replay_in_recorded_order_with_counts_and_window() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.jsonl");
    let rec = Recorder::create(Arc::new(Counter(AtomicU64::new(0))), &path).unwrap();
    let r = ChatRequest::new(vec![Message::user("same question")]);
    let mut live = Vec::new();
    for _ in 0..3 {
        live.push(rec.chat(&r, None).await.unwrap().text);
    }
    assert_eq!(live, ["answer 0", "answer 1", "answer 2"]);
    let counted = rec.count_tokens(&r.messages).unwrap();

    let rep = Replayer::open(&path).unwrap();
    assert_eq!(rep.info().to_string(), "replay:openai:counter");
    assert_eq!(rep.context_window(), 2048);
    assert_eq!(rep.count_tokens(&r.messages).unwrap(), counted);
    let mut replayed = Vec::new();
    for _ in 0..4 {
        replayed.push(rep.chat(&r, None).await.unwrap().text);
    }
    assert_eq!(replayed, ["answer 0", "answer 1", "answer 2", "answer 2"]);

    let other = ChatRequest::new(vec![Message::user("another question")]);
    let e = rep.chat(&other, None).await.unwrap_err().to_string();
    assert!(
        e.contains("is not in cassette") && e.contains("another question"),
        "{e}"
    );
    let e = rep.count_tokens(&other.messages).unwrap_err().to_string();
    assert!(e.contains("no token count"), "{e}");
}

#[test]
fn an_old_cassette_is_refused_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.jsonl");
    std::fs::write(
        &path,
        "{\"v\":1,\"hash\":\"68c305da9ff18f4e\",\"model\":\"local:x\"}\n",
    )
    .unwrap();
    let e = Replayer::open(&path).err().unwrap().to_string();
    assert!(
        e.contains("version 1") && e.contains("record it again"),
        "{e}"
    );
}
