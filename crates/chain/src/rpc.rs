//! A small blocking JSON-RPC 2.0 client over HTTP (ureq): single calls and batches, with a
//! timeout per request, bounded retries with backoff, and every failure to get a well-formed
//! answer reported as [`ChainError::SourceUnavailable`].

use std::time::Duration;

use serde_json::{Value, json};

use crate::ChainError;

/// The largest answer read from a node; a batch of full blocks stays far below it.
const RESPONSE_BYTES_MAX: u64 = 256 * 1024 * 1024;
/// Backoff doubles after each failed attempt up to this.
const BACKOFF_MAX: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub(crate) struct Client {
    url: String,
    agent: ureq::Agent,
    attempts_max: u32,
    backoff_initial: Duration,
}

/// Why one attempt failed; decides whether another attempt may help.
enum Failure {
    /// Connection refused or reset, timeout, 5xx or 429, an unreadable body: worth retrying.
    Transient(String),
    /// The node answered, but not something a retry would change (4xx, a wrong shape).
    Permanent(String),
}

impl Client {
    pub(crate) fn new(url: &str, timeout: Duration, attempts_max: u32, backoff_initial: Duration) -> Client {
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            // Status codes are classified below (a 503 is retried, a 404 is not).
            .http_status_as_error(false)
            .build();
        Client { url: url.to_owned(), agent: ureq::Agent::new_with_config(config), attempts_max: attempts_max.max(1), backoff_initial }
    }

    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// One call; the node's `result`.
    pub(crate) fn call(&self, method: &str, params: Value) -> Result<Value, ChainError> {
        let mut results = self.batch(&[(method, params)])?;
        Ok(results.pop().expect("a batch of one answers once"))
    }

    /// A JSON-RPC batch, answered in request order. One HTTP request; the caller chunks.
    pub(crate) fn batch(&self, calls: &[(&str, Value)]) -> Result<Vec<Value>, ChainError> {
        if calls.is_empty() {
            return Ok(Vec::new());
        }
        let request: Vec<Value> = calls
            .iter()
            .enumerate()
            .map(|(id, (method, params))| json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .collect();
        let body = serde_json::to_vec(&request).expect("JSON values serialise");
        let answer = self.post_with_retries(&body)?;
        let garbage = |reason: String| ChainError::SourceUnavailable { url: self.url.clone(), reason };
        // A node may answer a batch with a single error object (e.g. batch too large).
        let Value::Array(responses) = answer else {
            return Err(match answer.get("error") {
                Some(error) => rejected(calls[0].0, error),
                None => garbage(format!("answered a batch of {} with something other than a list", calls.len())),
            });
        };
        if responses.len() != calls.len() {
            return Err(garbage(format!("answered a batch of {} with {} responses", calls.len(), responses.len())));
        }
        let mut results: Vec<Option<Value>> = vec![None; calls.len()];
        for mut response in responses {
            let id = response.get("id").and_then(Value::as_u64).and_then(|id| usize::try_from(id).ok());
            let Some(slot) = id.and_then(|id| results.get_mut(id)) else {
                return Err(garbage(format!("answered with an unknown response id {:?}", response.get("id"))));
            };
            if let Some(error) = response.get("error") {
                let method = calls[id.expect("checked above")].0;
                return Err(rejected(method, error));
            }
            match response.get_mut("result") {
                Some(result) => *slot = Some(result.take()),
                None => return Err(garbage("answered without a result or an error".to_owned())),
            }
        }
        results
            .into_iter()
            .collect::<Option<Vec<Value>>>()
            .ok_or_else(|| garbage("answered one request twice and another not at all".to_owned()))
    }

    fn post_with_retries(&self, body: &[u8]) -> Result<Value, ChainError> {
        let mut backoff = self.backoff_initial;
        let mut attempt = 1;
        loop {
            let unavailable = |reason| ChainError::SourceUnavailable { url: self.url.clone(), reason };
            match self.post_once(body) {
                Ok(answer) => return Ok(answer),
                Err(Failure::Transient(_)) if attempt < self.attempts_max => {
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                    attempt += 1;
                }
                Err(Failure::Transient(reason)) => return Err(unavailable(format!("{reason} (after {attempt} attempts)"))),
                Err(Failure::Permanent(reason)) => return Err(unavailable(reason)),
            }
        }
    }

    fn post_once(&self, body: &[u8]) -> Result<Value, Failure> {
        let mut response = self
            .agent
            .post(&self.url)
            .header("content-type", "application/json")
            .send(body)
            .map_err(|error| Failure::Transient(error.to_string()))?;
        let status = response.status().as_u16();
        if status == 429 || status >= 500 {
            return Err(Failure::Transient(format!("HTTP status {status}")));
        }
        if status != 200 {
            return Err(Failure::Permanent(format!("HTTP status {status}")));
        }
        let bytes = response
            .body_mut()
            .with_config()
            .limit(RESPONSE_BYTES_MAX)
            .read_to_vec()
            .map_err(|error| Failure::Transient(format!("could not read the answer: {error}")))?;
        serde_json::from_slice(&bytes).map_err(|error| Failure::Transient(format!("answered something other than JSON: {error}")))
    }
}

fn rejected(method: &str, error: &Value) -> ChainError {
    ChainError::Rejected {
        method: method.to_owned(),
        code: error.get("code").and_then(Value::as_i64).unwrap_or(0),
        message: error.get("message").and_then(Value::as_str).unwrap_or("no message").to_owned(),
    }
}
