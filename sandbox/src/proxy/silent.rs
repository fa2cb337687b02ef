//! A destination that is down the hard way: it accepts connections and never answers, so a
//! client waits out whatever deadline it has. Tests point a sink at it (a collector, a
//! DynamoDB table) and check with [`only_the_first_waits`] that a circuit breaker keeps
//! every invocation after the first failure off it.

use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Binds 127.0.0.1 on a free port and holds every connection open, unanswered, until the
/// task is aborted. Returns `http://127.0.0.1:<port>` and the task.
pub async fn silent_server() -> std::io::Result<(String, JoinHandle<()>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            open.push(stream);
        }
    });
    Ok((url, held))
}

/// Checks the time each invocation took after its response (in order): the slowest is the
/// first or second (where the first failure waited out its budget), and every later one
/// took under a quarter of it. Relative, never an absolute time: the machines are shared.
pub fn only_the_first_waits(after_response: &[Duration]) -> Result<(), String> {
    let Some((first_failure, slowest)) = after_response
        .iter()
        .enumerate()
        .max_by_key(|(_, d)| **d)
        .map(|(i, d)| (i, *d))
    else {
        return Err("no invocations".to_owned());
    };
    if first_failure > 1 {
        return Err(format!(
            "the first failure should wait out its budget: {after_response:?}"
        ));
    }
    let later = after_response.get(first_failure + 1..).unwrap_or_default();
    match later.iter().max() {
        Some(&slowest_later) if slowest_later >= slowest / 4 => Err(format!(
            "later invocations should not wait for the dead destination: {after_response:?}"
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(values: &[u64]) -> Vec<Duration> {
        values.iter().map(|&v| Duration::from_millis(v)).collect()
    }

    #[test]
    fn a_slow_first_failure_then_fast_invocations_pass_and_anything_else_fails() {
        assert!(only_the_first_waits(&ms(&[500, 12, 20, 9])).is_ok());
        assert!(only_the_first_waits(&ms(&[15, 500, 12])).is_ok());
        assert!(only_the_first_waits(&ms(&[15, 12, 500])).is_err());
        assert!(only_the_first_waits(&ms(&[500, 12, 200])).is_err());
        assert!(only_the_first_waits(&[]).is_err());
    }
}
