//! `medseg synth` (stub, owned by the data work).

#[derive(clap::Args, Debug)]
pub struct SynthArgs {}

pub fn run(_args: SynthArgs) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
