//! The exactly-once sink's recovery step against the real broker of
//! `scripts/kafka`: a transaction prepared (flushed) by one producer whose
//! process then goes away is committed from elsewhere with
//! `rfy_kafka::txn::commit_prepared` (a hand-sent `EndTxn` for its producer
//! id and epoch, read from librdkafka's statistics as the sink does);
//! committing again is harmless; once a new producer initialized the id the
//! answer is "fenced"; an aborted transaction answers "invalid state".

use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer, ProducerContext};
use rdkafka::statistics::Statistics;
use rdkafka::{ClientConfig, ClientContext};
use rfy_itests::kafka::*;
use rfy_kafka::txn::{commit_prepared, CommitOutcome, PreparedTxn};

#[derive(Default)]
struct Eos(Mutex<Option<(i64, i16)>>);

impl ClientContext for Eos {
    fn stats(&self, s: Statistics) {
        if let Some(e) = s.eos.filter(|e| e.producer_id >= 0) {
            *self.0.lock().unwrap() = Some((e.producer_id, e.producer_epoch as i16));
        }
    }
}

impl ProducerContext for Eos {
    type DeliveryOpaque = ();
    fn delivery(&self, _: &rdkafka::message::DeliveryResult<'_>, _: ()) {}
}

/// A transactional producer with an initialized id and its (producer id, epoch).
fn producer(bootstrap: &str, id: &str) -> Result<(BaseProducer<Eos>, PreparedTxn)> {
    let p: BaseProducer<Eos> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("transactional.id", id)
        .set("statistics.interval.ms", "100")
        .create_with_context(Eos::default())
        .context("producer")?;
    p.init_transactions(Duration::from_secs(30))?;
    let t = Instant::now();
    loop {
        let seen = *p.context().0.lock().unwrap();
        if let Some((pid, epoch)) = seen {
            let txn = PreparedTxn { transactional_id: id.to_string(), producer_id: pid, epoch };
            return Ok((p, txn));
        }
        if t.elapsed() > Duration::from_secs(10) {
            bail!("no producer id in the statistics of {id}");
        }
        p.poll(Duration::from_millis(20));
    }
}

fn send_and_flush(p: &BaseProducer<Eos>, topic: &str, n: usize, tag: &str) -> Result<()> {
    p.begin_transaction()?;
    for i in 0..n {
        let v = format!("{tag}-{i}");
        p.send(BaseRecord::<(), str>::to(topic).payload(&v).partition(i as i32 % 2)).map_err(|(e, _)| e)?;
    }
    p.flush(Duration::from_secs(30))?;
    Ok(())
}

#[test]
fn a_prepared_transaction_is_committed_after_its_producer_is_gone() -> Result<()> {
    let Some(bootstrap) = bootstrap("kafka_resume_txn") else { return Ok(()) };
    let rt = tokio::runtime::Runtime::new()?;
    let topic = unique_topic("resume");
    rt.block_on(create_topic(&bootstrap, &topic, 2))?;
    let id = format!("{topic}-txn");
    let timeout = Duration::from_secs(20);

    // Prepared, then the producer goes away without ending the transaction.
    let (p, txn) = producer(&bootstrap, &id)?;
    send_and_flush(&p, &topic, 100, "a")?;
    drop(p);

    assert_eq!(commit_prepared(&bootstrap, &txn, timeout)?, CommitOutcome::Committed);
    let got = read_committed(&bootstrap, &topic, Duration::from_secs(30))?;
    assert_eq!(got.len(), 100, "the committed transaction's records are visible to read_committed");
    // A repeated commit (a restore that failed before re-initializing the id) is fine.
    assert_eq!(commit_prepared(&bootstrap, &txn, timeout)?, CommitOutcome::Committed);

    // A later restore: the id was initialized since (epoch bumped), so the commit is fenced.
    let (p2, txn2) = producer(&bootstrap, &id)?;
    assert!(txn2.epoch > txn.epoch || txn2.producer_id != txn.producer_id, "{txn2:?} after {txn:?}");
    assert!(matches!(commit_prepared(&bootstrap, &txn, timeout)?, CommitOutcome::Fenced(_)));

    // An aborted transaction cannot be committed: INVALID_TXN_STATE.
    send_and_flush(&p2, &topic, 10, "b")?;
    p2.abort_transaction(Duration::from_secs(30))?;
    assert_eq!(commit_prepared(&bootstrap, &txn2, timeout)?, CommitOutcome::InvalidState);
    drop(p2);
    let got = read_committed(&bootstrap, &topic, Duration::from_secs(30))?;
    assert_eq!(got.len(), 100, "nothing of the aborted transaction is visible");
    assert!(got.iter().all(|(_, v)| v.starts_with("a-")));
    Ok(())
}
