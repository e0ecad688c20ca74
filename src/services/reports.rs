//! Monthly reports for privacy officers: sent once a month, claimed with their mails in one
//! unit of work.

use super::{mail, uow::Uow};
use crate::{db, email::Rendered, reports::Month};

/// Claims `month` as mailed and queues its mail to every officer; false when there is no
/// officer to mail it to, or it was mailed before (by an earlier run or another instance).
pub fn claim_and_mail(
    uow: &mut Uow<'_>,
    month: Month,
    rendered: &Rendered,
    csv: &str,
) -> anyhow::Result<bool> {
    if uow.config().privacy_officers.is_empty()
        || !db::reports::claim_mailed(uow.db, &month.to_string(), uow.now)?
    {
        return Ok(false);
    }
    let name = format!("privacy-report-{month}.csv");
    for officer in &uow.config().privacy_officers {
        mail::queue_to_officer(uow, "monthly_report", officer, rendered, Some((&name, csv)))?;
    }
    Ok(true)
}
