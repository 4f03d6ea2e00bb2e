//! Background work that must outlive its own failures: a task is restarted when it returns
//! or panics, after a back-off that grows while it keeps failing (0.5 s doubling to 30 s,
//! back to 0.5 s after a minute of healthy running), and every restart is counted in
//! `memberhub_background_restarts_total{task}`.

use std::time::{Duration, Instant};

const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A run this long counts as healthy: the next failure starts the back-off over.
const HEALTHY_RUN: Duration = Duration::from_secs(60);

/// Runs `make()` as `task` until the returned future is dropped, restarting it whenever it
/// ends (`Ok` or `Err`) or panics.
pub async fn supervise<F, Fut, E>(task: &'static str, make: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: std::fmt::Display + Send + 'static,
{
    let mut backoff = FIRST_BACKOFF;
    loop {
        let started = Instant::now();
        let handle = tokio::spawn(make());
        // Dropping this future (the service stops) must stop the task too.
        let guard = AbortOnDrop(handle.abort_handle());
        let outcome = handle.await;
        drop(guard);
        match outcome {
            Ok(Ok(())) => tracing::warn!(task, "background task ended; restarting"),
            Ok(Err(error)) => {
                tracing::warn!(task, error = %error, "background task failed; restarting")
            }
            Err(join) if join.is_panic() => {
                tracing::error!(task, "background task panicked; restarting");
            }
            Err(_) => return,
        }
        metrics::counter!("memberhub_background_restarts_total", "task" => task).increment(1);
        if started.elapsed() >= HEALTHY_RUN {
            backoff = FIRST_BACKOFF;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn a_failing_or_panicking_task_is_restarted_with_backoff() {
        let runs = Arc::new(AtomicUsize::new(0));
        let counted = runs.clone();
        let supervisor = tokio::spawn(supervise("test", move || {
            let runs = counted.clone();
            async move {
                let run = runs.fetch_add(1, Ordering::SeqCst);
                if run == 1 {
                    panic!("second run panics");
                }
                Err::<(), _>(format!("run {run} failed"))
            }
        }));
        // Runs at 0, 0.5 s (panics), 1.5 s, then 3.5 s: three by 2.5 s.
        tokio::time::sleep(Duration::from_millis(2_500)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 3);
        supervisor.abort();
    }
}
