//! `universe rotation`: what rotation recommends right now (evict, expand, new models),
//! from the same plan `generate` would publish, publishing nothing and recording no model
//! as seen.

use std::time::Instant;

use std::io::Write as _;

use serde_json::json;

use super::SourceChoice;
use crate::cli::RotationArgs;
use crate::exit::ExitCode;
use crate::output;
use crate::plan;
use crate::progress::Progress;
use crate::settings::Settings;

pub fn run(settings: &Settings, args: &RotationArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let source = SourceChoice::parse(args.selection.source.as_deref())?;
    let (_store, history) = super::read_history(settings, args.selection.held.as_deref(), true)?;
    let plan = plan::make(
        source.open(settings, started)?.as_ref(),
        settings,
        &history,
        source.cache(settings, false).as_ref(),
        output::now_epoch(),
        &Progress::for_stderr(),
    )
    .map_err(plan::PlanError::into_error)?;
    if args.json {
        super::print_json(&json!({"rotation": plan.rotation, "models": plan.models}))?;
    } else {
        let mut out = std::io::stdout().lock();
        let r = &plan.rotation;
        writeln!(
            out,
            "rotation ({:?}): {} to evict, {} to expand, {} new models, {} symbols with a model",
            r.mode,
            r.evict.len(),
            r.expand.len(),
            r.new_models.len(),
            r.models
        )?;
        super::generate::print_rotation(&mut out, r)?;
    }
    Ok(ExitCode::Success)
}
