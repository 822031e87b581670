//! Every flag and argument of every command says what it is for in `--help` (a compliance
//! officer reads the help, not the source).

use clap::CommandFactory as _;

fn undocumented(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
    for arg in command.get_arguments() {
        let id = arg.get_id().as_str();
        if id == "help" || id == "version" {
            continue;
        }
        if arg.get_help().is_none() && arg.get_long_help().is_none() {
            missing.push(format!("{path} {}", arg.get_long().map_or_else(|| format!("<{id}>"), |long| format!("--{long}"))));
        }
    }
    for sub in command.get_subcommands() {
        undocumented(sub, &format!("{path} {}", sub.get_name()), missing);
    }
}

#[test]
fn every_flag_and_argument_has_help_text() {
    let mut missing = Vec::new();
    undocumented(&ringfence_cli::Cli::command(), "ringfence", &mut missing);
    assert!(missing.is_empty(), "no help text for: {}", missing.join(", "));
}
