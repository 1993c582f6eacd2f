//! Combines the watermarks and watermark statuses of a gate's input channels
//! into the gate's own (Flink's `StatusWatermarkValve`): the output watermark
//! is the minimum over the active channels; an idle channel does not hold
//! event time back, and counts again only once its watermark has caught up
//! with the output; when every channel is idle, the output goes idle too.

use crate::event::WatermarkStatus;

/// One input channel's event time as the valve sees it.
#[derive(Debug, Clone, Copy)]
struct ChannelTime {
    /// The highest watermark the channel delivered (ms), `i64::MIN` before any.
    watermark: i64,
    /// The producer declared itself idle (see [`WatermarkStatus`]).
    idle: bool,
    /// The channel's watermark is at or above the output watermark, so it takes
    /// part in the minimum (false after a resume until it catches up).
    caught_up: bool,
    /// The channel ended: it no longer holds event time back.
    ended: bool,
}

/// What the valve asks the gate to forward, in this order: a new output
/// watermark (ms), then a new output status.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ValveOutput {
    /// The output watermark moved to this value (ms).
    pub(crate) watermark: Option<i64>,
    /// The output status changed to this one.
    pub(crate) status: Option<WatermarkStatus>,
}

/// The watermark valve of one gate: per-channel watermarks and statuses in,
/// one watermark and status out.
#[derive(Debug)]
pub(crate) struct WatermarkValve {
    channels: Vec<ChannelTime>,
    /// The output watermark (ms), `i64::MIN` before any.
    output: i64,
    /// The status last forwarded: idle once every channel is.
    idle: bool,
}

impl WatermarkValve {
    /// A valve over `channels` input channels, all active, none with a watermark yet.
    pub(crate) fn new(channels: usize) -> Self {
        let fresh = ChannelTime { watermark: i64::MIN, idle: false, caught_up: true, ended: false };
        WatermarkValve { channels: vec![fresh; channels], output: i64::MIN, idle: false }
    }

    /// The output watermark (ms), `i64::MIN` before any.
    #[cfg(test)]
    pub(crate) fn output(&self) -> i64 {
        self.output
    }

    /// Channel `i` delivered watermark `w` (ms).
    pub(crate) fn on_watermark(&mut self, i: usize, w: i64) -> ValveOutput {
        let output = self.output;
        let c = &mut self.channels[i];
        if c.idle || w <= c.watermark {
            return ValveOutput::default();
        }
        c.watermark = w;
        if w >= output {
            c.caught_up = true;
        }
        self.advance()
    }

    /// Channel `i` delivered a watermark status.
    pub(crate) fn on_status(&mut self, i: usize, status: WatermarkStatus) -> ValveOutput {
        match status {
            WatermarkStatus::Idle => self.on_idle(i),
            WatermarkStatus::Active => self.on_active(i),
        }
    }

    /// Channel `i` ended: the minimum no longer waits for it.
    pub(crate) fn on_channel_end(&mut self, i: usize) -> ValveOutput {
        self.channels[i].ended = true;
        self.advance()
    }

    fn on_idle(&mut self, i: usize) -> ValveOutput {
        let c = &mut self.channels[i];
        if c.idle {
            return ValveOutput::default();
        }
        c.idle = true;
        c.caught_up = false;
        if !self.channels.iter().all(|c| c.idle || c.ended) {
            return self.advance();
        }
        // The last active channel went idle: event time may advance to what
        // the idle channels had reached.
        let mut out = ValveOutput::default();
        let max = self.channels.iter().filter(|c| !c.ended).map(|c| c.watermark).max();
        if let Some(w) = max.filter(|w| *w > self.output) {
            self.output = w;
            out.watermark = Some(w);
        }
        if !self.idle {
            self.idle = true;
            out.status = Some(WatermarkStatus::Idle);
        }
        out
    }

    fn on_active(&mut self, i: usize) -> ValveOutput {
        let output = self.output;
        let c = &mut self.channels[i];
        if !c.idle {
            return ValveOutput::default();
        }
        c.idle = false;
        c.caught_up = c.watermark >= output;
        let mut out = ValveOutput::default();
        if self.idle {
            self.idle = false;
            out.status = Some(WatermarkStatus::Active);
        }
        out
    }

    /// Moves the output to the minimum over the active, caught-up channels if that is higher.
    fn advance(&mut self) -> ValveOutput {
        let min = self.channels.iter().filter(|c| !c.ended && !c.idle && c.caught_up).map(|c| c.watermark).min();
        match min {
            Some(w) if w > self.output => {
                self.output = w;
                ValveOutput { watermark: Some(w), status: None }
            }
            _ => ValveOutput::default(),
        }
    }
}
