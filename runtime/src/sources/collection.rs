//! A bounded source over an in-memory collection (Flink's `fromCollection`).

use std::sync::Arc;

use super::{Source, SourceReader, SourceStatus, SOURCE_BATCH};
use crate::context::OperatorContext;
use crate::error::TaskError;
use crate::record::Record;

/// Emits the given records in order; non-parallel.
pub struct CollectionSource<T> {
    items: Arc<Vec<T>>,
}

impl<T> CollectionSource<T> {
    /// A source over `items`.
    pub fn new(items: Vec<T>) -> Self {
        CollectionSource { items: Arc::new(items) }
    }
}

struct CollectionReader<T> {
    items: Arc<Vec<T>>,
    pos: usize,
}

impl<T: Record> SourceReader<T> for CollectionReader<T> {
    fn poll_next(&mut self, out: &mut Vec<T>) -> Result<SourceStatus, TaskError> {
        let end = (self.pos + SOURCE_BATCH).min(self.items.len());
        out.extend_from_slice(&self.items[self.pos..end]);
        self.pos = end;
        Ok(if self.pos == self.items.len() { SourceStatus::Finished } else { SourceStatus::Available })
    }
}

impl<T: Record + Send + Sync> Source<T> for CollectionSource<T> {
    fn name(&self) -> String {
        "Source: Collection".into()
    }
    fn bounded(&self) -> bool {
        true
    }
    fn max_parallelism(&self) -> Option<u32> {
        Some(1)
    }
    fn create_reader(&self, _ctx: &OperatorContext) -> Result<Box<dyn SourceReader<T>>, TaskError> {
        Ok(Box::new(CollectionReader { items: self.items.clone(), pos: 0 }))
    }
}
