//! Two inputs joined by key: `--orders` lines `order_id,customer_id,amount`
//! and `--customers` lines `customer_id,name`; for each order whose
//! customer is known the job emits `name<TAB>order_id<TAB>amount`.
//!
//! rfy's DataStream API has no `union`/`connect` yet, so both files are read
//! by one source of tagged records ([`Input`]: each subtask reads its split
//! of both files) and joined by a keyed process over that tagged union: per
//! customer id, the name waits in a `ValueState` and orders that arrive
//! before it wait in a `ListState`.

use rfy::sources::{OperatorContext, Source, SourceReader, SourceStatus, TextFileSource};
use rfy::state::{KeyedStateStore, ListState, ValueState};
use rfy::{Collector, JobError, JobProgram, KeyedContext, KeyedProcessFunction, StreamExecutionEnvironment, TaskError};

/// A record of either input.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
enum Input {
    /// A line of the customers file.
    Customer(String),
    /// A line of the orders file.
    Order(String),
}

/// Reads the two files as one source of tagged lines.
struct TwoFiles {
    customers: TextFileSource,
    orders: TextFileSource,
}

/// One subtask's reader: its split of the customers file, then of the orders file.
struct TwoFilesReader {
    customers: Box<dyn SourceReader<String>>,
    orders: Box<dyn SourceReader<String>>,
    customers_done: bool,
    lines: Vec<String>,
}

impl SourceReader<Input> for TwoFilesReader {
    fn poll_next(&mut self, out: &mut Vec<Input>) -> Result<SourceStatus, TaskError> {
        self.lines.clear();
        if !self.customers_done {
            let status = self.customers.poll_next(&mut self.lines)?;
            out.extend(self.lines.drain(..).map(Input::Customer));
            self.customers_done = status == SourceStatus::Finished;
            return Ok(if status == SourceStatus::Idle { SourceStatus::Idle } else { SourceStatus::Available });
        }
        let status = self.orders.poll_next(&mut self.lines)?;
        out.extend(self.lines.drain(..).map(Input::Order));
        Ok(status)
    }
}

impl Source<Input> for TwoFiles {
    fn name(&self) -> String {
        "Source: customers + orders".into()
    }
    fn bounded(&self) -> bool {
        true
    }
    fn check(&self) -> Result<(), rfy::IoCheckError> {
        Source::<String>::check(&self.customers)?;
        Source::<String>::check(&self.orders)
    }
    fn create_reader(&self, ctx: &OperatorContext) -> Result<Box<dyn SourceReader<Input>>, TaskError> {
        Ok(Box::new(TwoFilesReader {
            customers: self.customers.create_reader(ctx)?,
            orders: self.orders.create_reader(ctx)?,
            customers_done: false,
            lines: Vec::new(),
        }))
    }
}

/// The customer id of a tagged line (its first field in both files).
fn customer_of(input: &Input) -> String {
    match input {
        Input::Customer(l) => l.split(',').next().unwrap_or_default().trim().to_string(),
        Input::Order(l) => l.split(',').nth(1).unwrap_or_default().trim().to_string(),
    }
}

/// Joins orders with their customer's name.
#[derive(Clone, Default)]
struct JoinByCustomer {
    name: Option<ValueState<String>>,
    waiting: Option<ListState<(String, String)>>,
}

impl KeyedProcessFunction for JoinByCustomer {
    type Key = String;
    type In = Input;
    type Out = String;

    fn open(&mut self, state: &mut KeyedStateStore<String>) {
        self.name = Some(state.value_state("name"));
        self.waiting = Some(state.list_state("waiting-orders"));
    }

    fn process_element(
        &mut self,
        input: Input,
        ctx: &mut KeyedContext<'_, String>,
        out: &mut Collector<'_, String>,
    ) -> Result<(), TaskError> {
        let (name, waiting) = (self.name.as_ref().expect("opened"), self.waiting.as_ref().expect("opened"));
        match input {
            Input::Customer(line) => {
                let (_, n) =
                    line.split_once(',').ok_or_else(|| TaskError::User(format!("bad customer line {line:?}")))?;
                let n = n.trim().to_string();
                for (order, amount) in waiting.get(ctx).to_vec() {
                    out.collect(format!("{n}\t{order}\t{amount}"));
                }
                waiting.clear(ctx);
                name.update(ctx, n);
            }
            Input::Order(line) => {
                let f: Vec<&str> = line.split(',').map(str::trim).collect();
                let [order, _, amount] = f[..] else {
                    return Err(TaskError::User(format!("bad order line {line:?}")));
                };
                match name.value(ctx) {
                    Some(n) => out.collect(format!("{n}\t{order}\t{amount}")),
                    None => waiting.add(ctx, (order.to_string(), amount.to_string())),
                }
            }
        }
        Ok(())
    }
}

fn build(env: &StreamExecutionEnvironment, args: &[String]) -> Result<(), JobError> {
    let (customers, orders) = (rfy::arg(args, "--customers")?, rfy::arg(args, "--orders")?);
    let output = rfy::arg(args, "--output")?;
    env.set_job_name(format!("Join {orders} with {customers}"));
    let inputs =
        env.add_source(TwoFiles { customers: TextFileSource::new(&customers), orders: TextFileSource::new(&orders) });
    let joined = inputs
        .filter(|i: &Input| !matches!(i, Input::Customer(l) | Input::Order(l) if l.trim().is_empty()))
        .key_by(customer_of)
        .process(JoinByCustomer::default())
        .name("JoinByCustomer");
    rfy::write_text_file(&joined, &output, |line: &String, out: &mut Vec<u8>| out.extend_from_slice(line.as_bytes()));
    Ok(())
}

/// The job program.
const JOIN: JobProgram =
    JobProgram { name: "join", description: "orders joined with customer names by customer id", build };

fn main() {
    rfy::run(&[JOIN])
}
