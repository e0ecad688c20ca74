//! Background loops. Each exposes one public step so tests drive it without sleeping.

pub mod imap;
pub mod outbox;
pub mod schedule;
pub mod webhooks;

/// A timer for a loop that runs until `stop`: ticks never pile up after a slow round.
pub fn timer(every: std::time::Duration) -> tokio::time::Interval {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick
}

/// Waits for `tick`'s next tick: true then, false once `stop` says to stop.
pub async fn next_tick(
    tick: &mut tokio::time::Interval,
    stop: &mut tokio::sync::watch::Receiver<bool>,
) -> bool {
    tokio::select! {
        _ = tick.tick() => {}
        _ = stop.changed() => return false,
    }
    !*stop.borrow()
}
