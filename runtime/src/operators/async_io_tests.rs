//! The async I/O operator with futures completed by helper threads after
//! chosen delays: ordering, watermarks, capacity, timeouts, retries, and the
//! in-flight records of a checkpoint re-issued on restore.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use futures::channel::oneshot;

use super::*;
use crate::checkpoint::test_support::TestCheckpoints;
use crate::context::RuntimeMode;
use crate::event::CheckpointBarrier;

/// What left the operator: `value@timestamp` per record, `W<w>` per watermark, `END`.
type Seen = Arc<Mutex<Vec<String>>>;

struct Sink(Seen);
impl Output<u64> for Sink {
    fn push_batch(&mut self, batch: &mut Vec<u64>) -> Result<(), TaskError> {
        self.0.lock().unwrap().extend(batch.drain(..).map(|r| format!("{r}")));
        Ok(())
    }
    fn push_timestamped(&mut self, batch: &mut Vec<u64>, ts: &mut Vec<i64>) -> Result<(), TaskError> {
        assert_eq!(batch.len(), ts.len());
        self.0.lock().unwrap().extend(batch.drain(..).zip(ts.drain(..)).map(|(r, t)| format!("{r}@{t}")));
        Ok(())
    }
    fn push_event(&mut self, event: &Event) -> Result<(), TaskError> {
        match event {
            Event::Watermark(w) => self.0.lock().unwrap().push(format!("W{w}")),
            Event::EndOfInput => self.0.lock().unwrap().push("END".into()),
            _ => {}
        }
        Ok(())
    }
}

/// A value delivered by another thread after `ms` milliseconds.
fn later<T: Send + 'static>(ms: u64, value: T) -> impl Future<Output = T> + Send + 'static {
    let (tx, rx) = oneshot::channel();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(ms));
        let _ = tx.send(value);
    });
    async move { rx.await.expect("the helper thread sends") }
}

fn ctx(cp: Option<Arc<TaskCheckpointing>>) -> OperatorContext {
    OperatorContext {
        operator_name: "Async Wait".into(),
        uid: "async-1".into(),
        task_name: "Async Wait (1/1)".into(),
        subtask_index: 0,
        parallelism: 1,
        max_parallelism: 128,
        attempt: 0,
        runtime_mode: RuntimeMode::Streaming,
        checkpointing: cp,
        metrics: Default::default(),
        state_backend: Default::default(),
    }
}

fn operator<F: AsyncFunction<u64, u64>>(
    function: F,
    mode: OutputMode,
    capacity: usize,
    timeout_ms: u64,
    retry: AsyncRetryStrategy<u64>,
    cp: Option<Arc<TaskCheckpointing>>,
    seen: Seen,
) -> Result<Box<dyn Output<u64>>, TaskError> {
    let b = AsyncWaitBuilder {
        function,
        timeout: Duration::from_millis(timeout_ms),
        capacity,
        mode,
        retry,
        _types: PhantomData,
    };
    let op = b.build(&ctx(cp), erase::<u64>(Box::new(Sink(seen))))?;
    unerase::<u64>(op, "test")
}

/// Record `i` answers `i * 10` after `(n - i) * 2` ms: later records complete first.
fn reverse_delays(n: u64) -> impl AsyncFunction<u64, u64> {
    move |i: u64| {
        let r = later((n - i) * 2, vec![i * 10]);
        async move { Ok(r.await) }
    }
}

#[test]
fn ordered_emits_in_input_order() {
    let seen = Seen::default();
    let mut op = operator(
        reverse_delays(20),
        OutputMode::Ordered,
        100,
        5000,
        AsyncRetryStrategy::no_retry(),
        None,
        seen.clone(),
    )
    .unwrap();
    op.push_batch(&mut (0..20).collect()).unwrap();
    op.push_event(&Event::EndOfInput).unwrap();
    let expected: Vec<String> = (0..20).map(|i| format!("{}", i * 10)).chain(["END".into()]).collect();
    assert_eq!(*seen.lock().unwrap(), expected);
}

#[test]
fn unordered_reorders_but_never_across_a_watermark() {
    let seen = Seen::default();
    let mut op = operator(
        reverse_delays(20),
        OutputMode::Unordered,
        100,
        5000,
        AsyncRetryStrategy::no_retry(),
        None,
        seen.clone(),
    )
    .unwrap();
    op.push_timestamped(&mut (0..10).collect(), &mut (0..10).collect()).unwrap();
    op.push_event(&Event::Watermark(9)).unwrap();
    op.push_timestamped(&mut (10..20).collect(), &mut (10..20).collect()).unwrap();
    op.push_event(&Event::EndOfInput).unwrap();
    let got = seen.lock().unwrap().clone();
    let w = got.iter().position(|s| s == "W9").expect("the watermark passed");
    assert_eq!(w, 10, "the 10 records before the watermark leave before it: {got:?}");
    let before: Vec<u64> = got[..w].iter().map(|s| s.split('@').next().unwrap().parse().unwrap()).collect();
    assert_ne!(before, (0..10).map(|i| i * 10).collect::<Vec<_>>(), "unordered: completion order, not input order");
    let mut sorted = before.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..10).map(|i| i * 10).collect::<Vec<_>>());
    for s in &got[..w] {
        let (v, t) = s.split_once('@').unwrap();
        assert_eq!(v.parse::<i64>().unwrap(), t.parse::<i64>().unwrap() * 10, "each result keeps its input's time");
    }
    assert_eq!(got.len(), 22);
    assert_eq!(got.last().unwrap(), "END");
}

#[test]
fn capacity_bounds_the_calls_in_flight() {
    let running = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let (r, m) = (running.clone(), most.clone());
    let f = move |i: u64| {
        let now = r.fetch_add(1, Ordering::SeqCst) + 1;
        m.fetch_max(now, Ordering::SeqCst);
        let (r, done) = (r.clone(), later(3, ()));
        async move {
            done.await;
            r.fetch_sub(1, Ordering::SeqCst);
            Ok(vec![i])
        }
    };
    let seen = Seen::default();
    let mut op =
        operator(f, OutputMode::Unordered, 4, 5000, AsyncRetryStrategy::no_retry(), None, seen.clone()).unwrap();
    op.push_batch(&mut (0..40).collect()).unwrap();
    op.push_event(&Event::EndOfInput).unwrap();
    assert_eq!(most.load(Ordering::SeqCst), 4, "never more than the capacity, and the capacity is used");
    assert_eq!(seen.lock().unwrap().len(), 41);
}

/// A call that never completes.
fn hanging(_: u64) -> impl Future<Output = Result<Vec<u64>, AsyncError>> + Send + 'static {
    futures::future::pending()
}

#[test]
fn a_timeout_fails_the_task_naming_it() {
    let seen = Seen::default();
    let mut op =
        operator(hanging, OutputMode::Ordered, 10, 30, AsyncRetryStrategy::no_retry(), None, seen.clone()).unwrap();
    op.push_batch(&mut vec![1, 2]).unwrap();
    let err = op.push_event(&Event::EndOfInput).unwrap_err().to_string();
    assert!(err.contains("timed out") && err.contains("timeout 30 ms"), "{err}");
    assert!(seen.lock().unwrap().is_empty());
}

/// Answers `u64::MAX` when a call times out.
#[derive(Clone)]
struct WithFallback;
impl AsyncFunction<u64, u64> for WithFallback {
    fn invoke(&self, _input: u64) -> impl Future<Output = Result<Vec<u64>, AsyncError>> + Send + 'static {
        futures::future::pending()
    }
    fn timeout(&self, input: &u64) -> Result<Vec<u64>, AsyncError> {
        Ok(vec![input + 1000])
    }
}

#[test]
fn a_timeout_can_yield_a_fallback() {
    let seen = Seen::default();
    let mut op =
        operator(WithFallback, OutputMode::Ordered, 10, 20, AsyncRetryStrategy::no_retry(), None, seen.clone())
            .unwrap();
    op.push_batch(&mut vec![1, 2]).unwrap();
    op.push_event(&Event::EndOfInput).unwrap();
    assert_eq!(*seen.lock().unwrap(), ["1001", "1002", "END"]);
}

#[test]
fn retries_until_a_call_succeeds_and_fail_when_attempts_run_out() {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    // Fails twice per record (in total over records: the first two calls of each).
    let attempts = Arc::new(Mutex::new(std::collections::HashMap::<u64, u32>::new()));
    let flaky = move |i: u64| {
        c.fetch_add(1, Ordering::SeqCst);
        let n = {
            let mut a = attempts.lock().unwrap();
            let n = a.entry(i).or_insert(0);
            *n += 1;
            *n
        };
        async move {
            if n <= 2 {
                Err::<Vec<u64>, AsyncError>(format!("HTTP 503 for {i}").into())
            } else {
                Ok(vec![i])
            }
        }
    };
    let seen = Seen::default();
    let retry = AsyncRetryStrategy::fixed_delay(3, Duration::from_millis(5));
    let mut op = operator(flaky.clone(), OutputMode::Ordered, 10, 5000, retry, None, seen.clone()).unwrap();
    op.push_batch(&mut (0..5).collect()).unwrap();
    op.push_event(&Event::EndOfInput).unwrap();
    assert_eq!(*seen.lock().unwrap(), ["0", "1", "2", "3", "4", "END"]);
    assert_eq!(calls.load(Ordering::SeqCst), 15, "three calls per record");

    let seen = Seen::default();
    let retry = AsyncRetryStrategy::fixed_delay(2, Duration::from_millis(5));
    let mut op = operator(flaky, OutputMode::Ordered, 10, 5000, retry, None, seen.clone()).unwrap();
    op.push_batch(&mut vec![7]).unwrap();
    let err = op.push_event(&Event::EndOfInput).unwrap_err().to_string();
    assert!(err.contains("failed after 2 attempt(s): HTTP 503 for 7"), "{err}");
}

#[test]
fn a_result_predicate_retries_and_the_last_result_stands() {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let empty = move |_: u64| {
        c.fetch_add(1, Ordering::SeqCst);
        async move { Ok(Vec::new()) }
    };
    let seen = Seen::default();
    let retry = AsyncRetryStrategy::fixed_delay(4, Duration::from_millis(1)).if_result(|r: &[u64]| r.is_empty());
    let mut op = operator(empty, OutputMode::Unordered, 10, 5000, retry, None, seen.clone()).unwrap();
    op.push_batch(&mut vec![1]).unwrap();
    op.push_event(&Event::EndOfInput).unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 4);
    assert_eq!(*seen.lock().unwrap(), ["END"]);
}

/// The records in flight at a barrier are in the snapshot and are called
/// again after a restore; what left before the barrier is not.
#[test]
fn in_flight_records_are_reissued_on_restore() {
    let checkpoints = TestCheckpoints::new();
    let cp = checkpoints.task(0, None);
    let seen = Seen::default();
    // Even records answer at once, odd ones never (until the restore).
    let first = |i: u64| async move {
        if i.is_multiple_of(2) {
            Ok(vec![i])
        } else {
            futures::future::pending::<Result<Vec<u64>, AsyncError>>().await
        }
    };
    let mut op = operator(
        first,
        OutputMode::Unordered,
        100,
        60_000,
        AsyncRetryStrategy::no_retry(),
        Some(cp.clone()),
        seen.clone(),
    )
    .unwrap();
    op.push_timestamped(&mut (0..10).collect(), &mut (100..110).collect()).unwrap();
    let barrier = CheckpointBarrier { id: 1, timestamp_ms: 0, savepoint: false };
    op.push_event(&Event::Barrier(barrier)).unwrap();
    cp.barrier_passed(&barrier);
    let before = seen.lock().unwrap().clone();
    assert_eq!(before, ["0@100", "2@102", "4@104", "6@106", "8@108"]);
    drop(op);

    let restore = checkpoints.restore_point(&cp, "async-1");
    let cp2 = checkpoints.task(0, Some(restore));
    let after = Seen::default();
    let second = |i: u64| async move { Ok(vec![i]) };
    let mut op =
        operator(second, OutputMode::Ordered, 100, 60_000, AsyncRetryStrategy::no_retry(), Some(cp2), after.clone())
            .unwrap();
    op.push_event(&Event::EndOfInput).unwrap();
    assert_eq!(*after.lock().unwrap(), ["1@101", "3@103", "5@105", "7@107", "9@109", "END"]);
}

/// Behind an input gate whose buffer timeout is an hour, a completed call
/// still leaves at once: its waker ends the gate's wait (the task's wake-up),
/// not the next flush tick. The input stays open until the result is seen.
#[test]
fn a_completed_call_wakes_the_waiting_input_gate() {
    use crate::exchange::gate::NetworkInput;
    use crate::exchange::{channel, NetMessage};
    use crate::task::{TaskControl, TaskHead};

    let seen = Seen::default();
    let (tx, rx) = channel(4);
    let s = seen.clone();
    let task = std::thread::spawn(move || {
        let op =
            operator(reverse_delays(3), OutputMode::Unordered, 10, 60_000, AsyncRetryStrategy::no_retry(), None, s)?;
        let mut gate = NetworkInput::<u64>::new(vec![rx], op, Duration::from_secs(3600), "t".into());
        gate.run(&TaskControl::default())
    });
    let batch = crate::exchange::record_batch(vec![0u64, 1, 2], None).unwrap();
    tx.send(NetMessage::Records(batch)).unwrap();
    let start = Instant::now();
    while seen.lock().unwrap().len() < 3 {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "results stuck until the next flush: {:?}",
            seen.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    tx.send(NetMessage::Event(Event::EndOfInput)).unwrap();
    task.join().unwrap().unwrap();
    let mut got = seen.lock().unwrap().clone();
    assert_eq!(got.pop().as_deref(), Some("END"));
    got.sort();
    assert_eq!(got, ["0", "10", "20"]);
}
