//! Operators: each is an [`Output`](crate::task::Output) of its input type
//! that owns the output of the next operator in its chain, and processes a
//! whole batch per call.

pub(crate) mod async_io;
mod async_io_queue;
pub(crate) mod basic;
pub(crate) mod broadcast;
pub(crate) mod combine;
pub(crate) mod process;
pub(crate) mod reduce;
pub(crate) mod sink;
pub(crate) mod source;
pub(crate) mod timestamps;
