//! `universe keygen`: a new Ed25519 key pair for signing policies. The key file is
//! created new, readable by its owner only; its public half is printed and written
//! beside it as the entry `policy.trusted_keys` takes.

use std::io::Write as _;

use crate::cli::KeygenArgs;
use crate::error::UsageError;
use crate::exit::ExitCode;
use crate::policy::signing::Signer;

pub fn run(args: &KeygenArgs) -> anyhow::Result<ExitCode> {
    let mut seed = [0u8; 32];
    getrandom::getrandom(&mut seed)
        .map_err(|e| anyhow::anyhow!("the OS gave no randomness: {e}"))?;
    let signer = Signer::from_seed(&seed);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&args.out).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => UsageError(format!(
            "--out {}: exists; keygen never overwrites a key",
            args.out.display()
        ))
        .into(),
        _ => anyhow::anyhow!("--out {}: {e}", args.out.display()),
    })?;
    writeln!(file, "{}", signer.secret_hex())?;
    let entry = signer.trusted_entry();
    let mut public = args.out.clone().into_os_string();
    public.push(".pub");
    std::fs::write(&public, format!("{entry}\n"))?;
    writeln!(
        crate::output::stdout(),
        "key {} written to {} (mode 600), its public half to {}\n\
         where policies are published:  policy.signing_key_file = \"{}\"\n\
         where they are checked:        policy.trusted_keys = [\"{entry}\"]",
        signer.key_id(),
        args.out.display(),
        std::path::Path::new(&public).display(),
        args.out.display()
    )?;
    Ok(ExitCode::Success)
}
