//! Prometheus metrics, kept in memory and rendered in the text exposition format at
//! `/metrics`: requests by route, method and status code, request latency per route (a
//! histogram), commands by register status, and the journal head.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ringfence_core::{Outcome, Status};

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS_SECONDS: [f64; 12] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];

#[derive(Debug, Default)]
struct Latency {
    buckets: [u64; BUCKETS_SECONDS.len()],
    count: u64,
    sum_micros: u64,
}

#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    latencies: Mutex<BTreeMap<String, Latency>>,
    statuses: Mutex<BTreeMap<Status, u64>>,
    head: AtomicU64,
}

impl Metrics {
    pub fn record_request(&self, route: &str, method: &str, status: u16, took: Duration) {
        let mut requests = self.requests.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *requests.entry((route.to_owned(), method.to_owned(), status)).or_default() += 1;
        drop(requests);
        let mut latencies = self.latencies.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let latency = latencies.entry(route.to_owned()).or_default();
        let seconds = took.as_secs_f64();
        for (bucket, bound) in latency.buckets.iter_mut().zip(BUCKETS_SECONDS) {
            if seconds <= bound {
                *bucket += 1;
            }
        }
        latency.count += 1;
        latency.sum_micros += u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
    }

    pub fn record_outcomes(&self, outcomes: &[Outcome]) {
        let mut statuses = self.statuses.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for outcome in outcomes {
            *statuses.entry(outcome.status).or_default() += 1;
        }
    }

    pub fn set_head(&self, seq: u64) {
        self.head.store(seq, Ordering::Relaxed);
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP ringfence_http_requests_total HTTP requests by route, method and status code.\n");
        out.push_str("# TYPE ringfence_http_requests_total counter\n");
        for ((route, method, status), count) in self.requests.lock().unwrap_or_else(std::sync::PoisonError::into_inner).iter() {
            let _ = writeln!(out, "ringfence_http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}} {count}");
        }
        out.push_str("# HELP ringfence_http_request_duration_seconds Time from request to response, by route.\n");
        out.push_str("# TYPE ringfence_http_request_duration_seconds histogram\n");
        for (route, latency) in self.latencies.lock().unwrap_or_else(std::sync::PoisonError::into_inner).iter() {
            for (bound, count) in BUCKETS_SECONDS.iter().zip(latency.buckets) {
                let _ = writeln!(out, "ringfence_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {count}");
            }
            let _ = writeln!(out, "ringfence_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}", latency.count);
            let _ = writeln!(out, "ringfence_http_request_duration_seconds_sum{{route=\"{route}\"}} {}", latency.sum_micros as f64 / 1e6);
            let _ = writeln!(out, "ringfence_http_request_duration_seconds_count{{route=\"{route}\"}} {}", latency.count);
        }
        out.push_str("# HELP ringfence_commands_total Commands decided by the register, by status.\n");
        out.push_str("# TYPE ringfence_commands_total counter\n");
        for (status, count) in self.statuses.lock().unwrap_or_else(std::sync::PoisonError::into_inner).iter() {
            let _ = writeln!(out, "ringfence_commands_total{{status=\"{}\"}} {count}", status.code());
        }
        out.push_str("# HELP ringfence_journal_head_seq The sequence number of the last journal entry.\n");
        out.push_str("# TYPE ringfence_journal_head_seq gauge\n");
        let _ = writeln!(out, "ringfence_journal_head_seq {}", self.head.load(Ordering::Relaxed));
        out
    }
}
