//! Keyed process operator: runs a user [`KeyedProcessFunction`] with keyed state.

use std::marker::PhantomData;
use std::sync::Arc;

use crate::api::{Collector, KeyedContext, KeyedProcessFunction, KeyedStateStore};
use crate::checkpoint::{KeyGroupRange, OperatorSnapshot, TaskCheckpointing};
use crate::context::OperatorContext;
use crate::error::TaskError;
use crate::event::Event;
use crate::graph::OperatorBuilder;
use crate::task::output::{erase, unerase, AnyOutput};
use crate::task::Output;

struct ProcessOp<P: KeyedProcessFunction, KF> {
    function: P,
    key_fn: Arc<KF>,
    state: KeyedStateStore<P::Key>,
    buf: Vec<P::Out>,
    next: Box<dyn Output<P::Out>>,
    uid: String,
    checkpointing: Option<Arc<TaskCheckpointing>>,
}

impl<P, KF> Output<P::In> for ProcessOp<P, KF>
where
    P: KeyedProcessFunction,
    KF: Fn(&P::In) -> P::Key,
{
    fn push_batch(&mut self, batch: &mut Vec<P::In>) -> Result<(), TaskError> {
        let key_fn = &*self.key_fn;
        let mut out = Collector::new(&mut self.buf);
        for rec in batch.drain(..) {
            let key = key_fn(&rec);
            let kg = self.state.key_groups().index_of(&key);
            let mut ctx = KeyedContext { key: &key, kg, state: &mut self.state };
            self.function.process_element(rec, &mut ctx, &mut out)?;
        }
        self.next.push_batch(&mut self.buf)
    }

    fn push_event(&mut self, event: &Event) -> Result<(), TaskError> {
        if let (Event::Barrier(b), Some(cp)) = (event, &self.checkpointing) {
            let range = self.state.key_groups();
            match self.state.snapshot() {
                Ok(keyed) => cp.add_snapshot(
                    &self.uid,
                    OperatorSnapshot { key_groups: Some((range.first, range.last)), keyed, operator: Vec::new() },
                ),
                Err(e) => cp.decline(b.id, format!("{}: {e}", self.uid)),
            }
        }
        self.next.push_event(event)
    }
}

/// Builds a keyed process operator.
pub(crate) struct ProcessBuilder<P, KF> {
    pub(crate) function: P,
    pub(crate) key_fn: Arc<KF>,
    pub(crate) _f: PhantomData<fn()>,
}

impl<P, KF> OperatorBuilder for ProcessBuilder<P, KF>
where
    P: KeyedProcessFunction,
    KF: Fn(&P::In) -> P::Key + Send + Sync + 'static,
{
    fn build(&self, ctx: &OperatorContext, next: AnyOutput) -> Result<AnyOutput, TaskError> {
        let next = unerase::<P::Out>(next, &ctx.operator_name)?;
        let mut function = self.function.clone();
        let mut state =
            KeyedStateStore::new(KeyGroupRange::of_subtask(ctx.max_parallelism, ctx.parallelism, ctx.subtask_index));
        function.open(&mut state);
        if let Some(cp) = &ctx.checkpointing {
            for (kg, bytes, file) in cp.restored_keyed(&ctx.uid, state.key_groups())? {
                state.restore_group(kg, &bytes, &file)?;
            }
        }
        Ok(erase::<P::In>(Box::new(ProcessOp {
            function,
            key_fn: self.key_fn.clone(),
            state,
            buf: Vec::new(),
            next,
            uid: ctx.uid.clone(),
            checkpointing: ctx.checkpointing.clone(),
        })))
    }
}
