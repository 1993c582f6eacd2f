//! Side outputs (Flink's `OutputTag`): extra streams of another type that an
//! operator emits beside its main output, e.g. late records of a window.

use std::any::Any;
use std::marker::PhantomData;

use crate::error::TaskError;
use crate::event::Event;
use crate::record::Record;
use crate::task::output::{unerase, AnyOutput};
use crate::task::Output;

/// Names a side output of records of type `S` (Flink's `OutputTag`). An
/// operator emits into it (`KeyedContext::output`, or a window's
/// `side_output_late_data`); `get_side_output` on the operator's result
/// stream reads it.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use rfy_runtime::api::{KeyedContext, OutputTag};
/// use rfy_runtime::sinks::CollectSink;
/// use rfy_runtime::{Collector, ExecutionConfig, KeyedProcessFunction, StreamExecutionEnvironment, TaskError};
///
/// /// Passes even numbers on; reports odd ones on the side, as text.
/// #[derive(Clone)]
/// struct SplitOdd(OutputTag<String>);
/// impl KeyedProcessFunction for SplitOdd {
///     type Key = u64;
///     type In = u64;
///     type Out = u64;
///     fn process_element(&mut self, v: u64, ctx: &mut KeyedContext<'_, u64>, out: &mut Collector<'_, u64>)
///         -> Result<(), TaskError> {
///         if v % 2 == 0 { out.collect(v) } else { ctx.output(&self.0, format!("odd {v}")) }
///         Ok(())
///     }
/// }
/// let env = StreamExecutionEnvironment::new(ExecutionConfig::default());
/// let (evens, odds) = (Arc::new(Mutex::new(Vec::new())), Arc::new(Mutex::new(Vec::new())));
/// let tag = OutputTag::<String>::new("odd");
/// let main = env.from_collection(vec![1u64, 2, 3, 4]).key_by(|x: &u64| *x).process(SplitOdd(tag.clone()));
/// main.get_side_output(&tag).sink_to(CollectSink::new(odds.clone()));
/// main.sink_to(CollectSink::new(evens.clone()));
/// rfy_runtime::task::run_local(env).unwrap();
/// assert_eq!(*evens.lock().unwrap(), vec![2, 4]);
/// assert_eq!(*odds.lock().unwrap(), vec!["odd 1".to_string(), "odd 3".to_string()]);
/// ```
#[derive(Debug)]
pub struct OutputTag<S> {
    pub(crate) id: String,
    _s: PhantomData<fn() -> S>,
}

impl<S> Clone for OutputTag<S> {
    fn clone(&self) -> Self {
        OutputTag { id: self.id.clone(), _s: PhantomData }
    }
}

impl<S: Record> OutputTag<S> {
    /// A tag with a name unique within the operator.
    pub fn new(id: impl Into<String>) -> Self {
        OutputTag { id: id.into(), _s: PhantomData }
    }

    /// The tag's name.
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// One side output's buffer and its downstream output.
trait SideChannel: Any {
    fn as_any_mut(&mut self) -> &mut dyn Any;
    fn flush(&mut self) -> Result<(), TaskError>;
    fn event(&mut self, event: &Event) -> Result<(), TaskError>;
}

struct Typed<S> {
    buf: Vec<S>,
    ts: Vec<i64>,
    out: Box<dyn Output<S>>,
}

impl<S: Record> SideChannel for Typed<S> {
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
    fn flush(&mut self) -> Result<(), TaskError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        self.out.push_timestamped(&mut self.buf, &mut self.ts)
    }
    fn event(&mut self, event: &Event) -> Result<(), TaskError> {
        self.flush()?;
        self.out.push_event(event)
    }
}

/// The side outputs of one operator instance; records are buffered and
/// sent per batch, events go to every side output in order.
#[derive(Default)]
pub(crate) struct SideOutputs {
    channels: Vec<(String, Box<dyn SideChannel>)>,
}

impl SideOutputs {
    /// Adds the output of tag `id` carrying `S` records.
    ///
    /// Errors: the output's type is not `S` (program and JobGraph disagree).
    pub(crate) fn add<S: Record>(&mut self, id: &str, out: AnyOutput) -> Result<(), TaskError> {
        let out = unerase::<S>(out, id)?;
        self.channels.push((id.to_string(), Box::new(Typed { buf: Vec::new(), ts: Vec::new(), out })));
        Ok(())
    }

    /// Emits `value` with `timestamp` to the side output of `tag`; a tag
    /// nobody reads drops it.
    #[inline]
    pub(crate) fn emit<S: Record>(&mut self, tag: &OutputTag<S>, value: S, timestamp: i64) {
        for (id, c) in &mut self.channels {
            if *id == tag.id {
                if let Some(t) = c.as_any_mut().downcast_mut::<Typed<S>>() {
                    t.buf.push(value);
                    t.ts.push(timestamp);
                }
                return;
            }
        }
    }

    /// The tags of the side outputs.
    pub(crate) fn tags(&self) -> impl Iterator<Item = &str> {
        self.channels.iter().map(|(t, _)| t.as_str())
    }

    /// True if there is no side output.
    pub(crate) fn is_empty(&self) -> bool {
        self.channels.is_empty()
    }

    pub(crate) fn flush(&mut self) -> Result<(), TaskError> {
        for (_, c) in &mut self.channels {
            c.flush()?;
        }
        Ok(())
    }

    pub(crate) fn event(&mut self, event: &Event) -> Result<(), TaskError> {
        for (_, c) in &mut self.channels {
            c.event(event)?;
        }
        Ok(())
    }
}
