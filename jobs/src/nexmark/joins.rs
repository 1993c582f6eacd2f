//! The join queries: q3 (a regular join) and q8 (a window join).

use std::io::Write;
use std::time::Duration;

use rfy_runtime::api::{KeyedContext, KeyedStateStore, ListState, ValueState};
use rfy_runtime::windowing::{
    AggregateFunction, ProcessWindowContext, ProcessWindowFunction, TumblingEventTimeWindows,
};
use rfy_runtime::{Collector, DataStream, KeyedProcessFunction, TaskError};
use serde::{Deserialize, Serialize};

use super::model::Event;
use super::{push_time, sink, Args};

/// A q3 input: a person of OR, ID or CA, or an auction of category 10.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Q3Input {
    /// (id, name, city, state) of a person.
    Person(i64, String, String, String),
    /// (id, seller) of an auction.
    Auction(i64, i64),
}

/// One q3 result: `name, city, state, auction id`.
pub type Q3Row = (String, String, String, i64);

/// q3's join, keyed by person id: keeps the person (once seen) and the
/// auctions that came before it.
#[derive(Clone, Default)]
pub struct LocalItemSuggestion {
    person: Option<ValueState<(String, String, String)>>,
    pending: Option<ListState<i64>>,
}

impl KeyedProcessFunction for LocalItemSuggestion {
    type Key = i64;
    type In = Q3Input;
    type Out = Q3Row;

    fn open(&mut self, state: &mut KeyedStateStore<i64>) {
        self.person = Some(state.value_state("person"));
        self.pending = Some(state.list_state("pending-auctions"));
    }

    fn process_element(
        &mut self,
        value: Q3Input,
        ctx: &mut KeyedContext<'_, i64>,
        out: &mut Collector<'_, Q3Row>,
    ) -> Result<(), TaskError> {
        let (person, pending) = (self.person.as_ref().expect("opened"), self.pending.as_ref().expect("opened"));
        match value {
            Q3Input::Person(_, name, city, state) => {
                for &auction in pending.get(ctx) {
                    out.collect((name.clone(), city.clone(), state.clone(), auction));
                }
                pending.clear(ctx);
                person.update(ctx, (name, city, state));
            }
            Q3Input::Auction(id, _) => match person.value(ctx) {
                Some((name, city, state)) => out.collect((name, city, state, id)),
                None => pending.add(ctx, id),
            },
        }
        Ok(())
    }
}

/// q3, local item suggestion:
/// `SELECT P.name, P.city, P.state, A.id FROM auction AS A INNER JOIN person AS P on A.seller = P.id
///  WHERE A.category = 10 and (P.state = 'OR' OR P.state = 'ID' OR P.state = 'CA')`.
pub fn q3(events: &DataStream<Event>, a: &Args) {
    let inputs = events
        .flat_map(|e: Event, out| match e {
            Event::Person(p) if matches!(p.state.as_str(), "OR" | "ID" | "CA") => {
                out.collect(Q3Input::Person(p.id, p.name.into(), p.city.into(), p.state.into()))
            }
            Event::Auction(a) if a.category == 10 => out.collect(Q3Input::Auction(a.id, a.seller)),
            _ => {}
        })
        .name("Filter");
    let rows = inputs
        .key_by(|i: &Q3Input| match i {
            Q3Input::Person(id, ..) => *id,
            Q3Input::Auction(_, seller) => *seller,
        })
        .process(LocalItemSuggestion::default())
        .name("Join");
    sink(&rows, a, |r: &Q3Row, out| {
        let _ = write!(out, "{}\t{}\t{}\t{}", r.0, r.1, r.2, r.3);
    });
}

/// A q8 input: a person's (id, name), or an auction's seller.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Q8Input {
    /// (id, name) of a new person.
    Person(i64, String),
    /// Seller of a new auction.
    Seller(i64),
}

/// q8's window join as one aggregate per (person id, window): the person's
/// name if they joined in the window, and whether they sold in it.
#[derive(Clone)]
pub struct JoinedAndSold;

impl AggregateFunction<Q8Input> for JoinedAndSold {
    type Acc = (Option<String>, bool);
    type Out = (Option<String>, bool);
    fn create_accumulator(&self) -> Self::Acc {
        (None, false)
    }
    fn add(&self, value: Q8Input, acc: &mut Self::Acc) {
        match value {
            Q8Input::Person(_, name) => acc.0 = Some(name),
            Q8Input::Seller(_) => acc.1 = true,
        }
    }
    fn get_result(&self, acc: &Self::Acc) -> Self::Out {
        acc.clone()
    }
    fn merge(&self, acc: &mut Self::Acc, other: Self::Acc) {
        acc.0 = acc.0.take().or(other.0);
        acc.1 |= other.1;
    }
}

/// Emits `(id, name, window start)` when the person joined and sold in the window.
#[derive(Clone)]
struct NewSeller;

impl ProcessWindowFunction<(Option<String>, bool), i64> for NewSeller {
    type Out = (i64, String, i64);
    fn process(
        &mut self,
        key: &i64,
        ctx: &ProcessWindowContext,
        elements: &[(Option<String>, bool)],
        out: &mut Collector<'_, Self::Out>,
    ) -> Result<(), TaskError> {
        for (name, sold) in elements {
            if let (Some(name), true) = (name, sold) {
                out.collect((*key, name.clone(), ctx.window().start));
            }
        }
        Ok(())
    }
}

/// q8, new users: people who created an auction in the 10 s tumbling window
/// they joined in. The nexmark SQL joins
/// `SELECT id, name, window_start ... FROM TUMBLE(person, 10 s) GROUP BY id, name, window_start, window_end`
/// with `SELECT seller, window_start ... FROM TUMBLE(auction, 10 s) GROUP BY seller, window_start, window_end`
/// on id = seller and equal windows; rows are `P.id, P.name, P.starttime`.
pub fn q8(events: &DataStream<Event>, a: &Args) {
    let inputs = events
        .flat_map(|e: Event, out| match e {
            Event::Person(p) => out.collect(Q8Input::Person(p.id, p.name.into())),
            Event::Auction(a) => out.collect(Q8Input::Seller(a.seller)),
            Event::Bid(_) => {}
        })
        .name("People and sellers");
    let rows = inputs
        .key_by(|i: &Q8Input| match i {
            Q8Input::Person(id, _) => *id,
            Q8Input::Seller(id) => *id,
        })
        .window(TumblingEventTimeWindows::of(Duration::from_secs(10)))
        .aggregate_process(JoinedAndSold, NewSeller);
    sink(&rows, a, |r: &(i64, String, i64), out| {
        let _ = write!(out, "{}\t{}\t", r.0, r.1);
        push_time(r.2, out);
    });
}
