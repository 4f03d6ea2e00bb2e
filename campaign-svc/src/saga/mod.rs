//! Claims as sagas (OC-7, GP-9, PT-3): the runner drives a claim's plan
//! (`domain::claim`) through its owning services; the consumer records open-card gift
//! claims from membership-svc's events; the reconciler resumes what was left unfinished.

pub(crate) mod consumer;
pub(crate) mod reconciler;
mod runner;

pub(crate) use runner::Saga;
