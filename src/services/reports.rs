//! Monthly reports for privacy officers: sent once a month, claimed with their mails in one
//! unit of work.

use super::{mail, uow::Uow};
use crate::{db, email::Rendered, reports::Month};

/// Claims `month` and queues its mail to every officer; false when it was claimed before
/// (by an earlier run or another instance).
pub fn claim_and_mail(
    uow: &mut Uow<'_>,
    month: Month,
    rendered: &Rendered,
    csv: &str,
) -> anyhow::Result<bool> {
    if !db::reports::claim(uow.db, &month.to_string(), uow.now)? {
        return Ok(false);
    }
    let name = format!("privacy-report-{month}.csv");
    for officer in &uow.config().privacy_officers {
        mail::queue_report(uow, officer, rendered, (&name, csv))?;
    }
    Ok(true)
}
