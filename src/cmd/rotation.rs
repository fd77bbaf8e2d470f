//! `universe rotation`: what rotation recommends right now (evict, expand, new models),
//! from the same plan `generate` would publish, publishing nothing and recording no model
//! as seen.

use std::io::Write as _;

use serde_json::json;

use crate::cli::RotationArgs;
use crate::exit::ExitCode;
use crate::settings::Settings;

pub fn run(settings: &Settings, args: &RotationArgs) -> anyhow::Result<ExitCode> {
    let plan = super::plan_without_publishing(settings, &args.selection, true)?;
    if args.json {
        super::print_json(&json!({"rotation": plan.rotation, "models": plan.models}))?;
    } else {
        let mut out = crate::output::stdout();
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
        super::report::print_rotation(&mut out, r)?;
    }
    Ok(ExitCode::Success)
}
