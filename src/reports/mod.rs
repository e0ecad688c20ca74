//! Monthly summaries for privacy officers: gather (SQL), compute, render. Counts only: no
//! report ever names a person.

pub mod chart;
pub mod gather;
pub mod month;
pub mod render;

pub use gather::{MonthFigures, Report};
pub use month::Month;
