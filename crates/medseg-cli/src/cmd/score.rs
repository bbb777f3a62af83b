//! `medseg score` (stub, owned by the losses/metrics work).

#[derive(clap::Args, Debug)]
pub struct ScoreArgs {}

pub fn run(_args: ScoreArgs) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
