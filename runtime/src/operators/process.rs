//! Keyed process operator: runs a user [`KeyedProcessFunction`] with keyed state.

use std::marker::PhantomData;
use std::sync::Arc;

use crate::api::{Collector, KeyedContext, KeyedProcessFunction, KeyedStateStore};
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
            let mut ctx = KeyedContext { key: &key, state: &mut self.state };
            self.function.process_element(rec, &mut ctx, &mut out)?;
        }
        self.next.push_batch(&mut self.buf)
    }

    fn push_event(&mut self, event: &Event) -> Result<(), TaskError> {
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
        let mut state = KeyedStateStore::new();
        function.open(&mut state);
        Ok(erase::<P::In>(Box::new(ProcessOp { function, key_fn: self.key_fn.clone(), state, buf: Vec::new(), next })))
    }
}
