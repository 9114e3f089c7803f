//! `dlclassifier`: train and apply pixel classifiers from the command line.

mod bench_cmd;
mod bench_infer_cmd;
mod bench_objects_cmd;
mod catalog_cmd;
mod devices_cmd;
mod infer_cmd;
mod models_cmd;
mod train_cmd;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "dlclassifier",
    version,
    about = "Deep-learning pixel classifiers for microscopy images",
    after_help = "Exit codes: 0 success, 1 invalid argument or option, 2 usage, 3 file not readable or writable, \
                  4 engine failure, 5 cancelled, 6 internal error, 7 reservation timed out, 8 out of memory."
)]
struct Cli {
    /// Log engine events (repeat for more detail).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a model from a QuPath training-data export.
    Train(Box<train_cmd::TrainArgs>),
    /// Apply a model to a whole image, tile by tile, and write the result files.
    Infer(Box<infer_cmd::InferArgs>),
    /// Write model.onnx for an existing model folder.
    Export {
        /// Model folder (metadata.json and model.safetensors).
        #[arg(long)]
        model: std::path::PathBuf,
    },
    /// List architectures, encoders, parameter counts and freeze groups (JSON),
    /// or with --recommend the transfer-learning settings for a data-set size.
    Catalog(catalog_cmd::CatalogArgs),
    /// List, verify, bundle and unbundle trained models.
    #[command(subcommand)]
    Models(models_cmd::ModelsCommand),
    /// Measure training throughput (samples/s) on synthetic batches (JSON).
    BenchTrain(bench_cmd::BenchArgs),
    /// Measure tile inference throughput of the ONNX path against its bare run (JSON).
    BenchInfer(bench_infer_cmd::BenchInferArgs),
    /// Measure object tracing and measurement throughput (Mpx/s) on a class map (JSON).
    BenchObjects(bench_objects_cmd::BenchObjectsArgs),
    /// List the compute devices with their threads and memory (CUDA absent is reported, not an error).
    Devices(devices_cmd::DevicesArgs),
    /// Estimate the peak memory of training or inference, and the largest batch within a budget.
    Estimate(devices_cmd::EstimateArgs),
}

fn main() -> ExitCode {
    let command = Cli::command().mut_subcommand("train", train_cmd::with_defaults);
    let cli = Cli::from_arg_matches(&command.get_matches()).unwrap_or_else(|e| e.exit());
    let level = match cli.verbose {
        0 => tracing::Level::WARN,
        1 => tracing::Level::INFO,
        _ => tracing::Level::DEBUG,
    };
    tracing_subscriber::fmt().with_max_level(level).with_writer(std::io::stderr).with_target(false).init();
    let result = match cli.command {
        Command::Train(args) => train_cmd::run(*args),
        Command::BenchTrain(args) => bench_cmd::run(args),
        Command::BenchInfer(args) => bench_infer_cmd::run(args),
        Command::BenchObjects(args) => bench_objects_cmd::run(args),
        Command::Infer(args) => infer_cmd::run(*args),
        Command::Models(command) => models_cmd::run(command),
        Command::Devices(args) => devices_cmd::devices(args),
        Command::Estimate(args) => devices_cmd::estimate(args),
        Command::Export { model } => {
            dlclassifier::model_dir::export_onnx_dir(&model).map(|path| println!("wrote {}", path.display()))
        }
        Command::Catalog(args) => catalog_cmd::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: the error chain joined, as scripts grep for it.
            eprintln!("error: {}", e.to_string().replace('\n', "; "));
            // One code per error class, the numbers of the C API's status
            // (1 invalid argument, 3 file, 4 engine, 5 cancelled, 7 timeout,
            // 8 out of memory); clap's own usage errors exit with 2.
            ExitCode::from(e.class().code())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every option of every command, with `train`'s defaults added.
    fn all_args() -> Vec<(String, clap::Arg)> {
        fn walk(path: String, command: &clap::Command, out: &mut Vec<(String, clap::Arg)>) {
            out.extend(command.get_arguments().map(|a| (path.clone(), a.clone())));
            for sub in command.get_subcommands() {
                walk(format!("{path} {}", sub.get_name()), sub, out);
            }
        }
        let mut out = Vec::new();
        walk("dlclassifier".into(), &Cli::command().mut_subcommand("train", train_cmd::with_defaults), &mut out);
        out
    }

    #[test]
    fn every_option_says_what_it_does() {
        let silent: Vec<String> = all_args()
            .into_iter()
            .filter(|(_, a)| a.get_help().is_none_or(|h| h.to_string().trim().is_empty()))
            .map(|(path, a)| format!("{path} --{}", a.get_id()))
            .collect();
        assert!(silent.is_empty(), "options without a description: {silent:?}");
    }

    #[test]
    fn train_help_shows_the_engines_defaults() {
        let defaults = dlclassifier::settings::TrainingConfig::default();
        let help = |id: &str| {
            let (_, arg) = all_args().into_iter().find(|(p, a)| p == "dlclassifier train" && a.get_id() == id).expect("a train option");
            arg.get_help().expect("a help").to_string()
        };
        assert!(help("epochs").ends_with(&format!("[default: {}]", defaults.epochs)), "{}", help("epochs"));
        assert!(help("tile_size").contains("[default: the smallest training image side"));
        assert!(help("batch_size").ends_with(&format!("[default: {}]", defaults.batch_size)));
        assert!(help("encoder").contains(&format!("[default: {}]", defaults.encoder)));
        assert!(help("patience").ends_with(&format!("[default: {}]", defaults.early_stopping.unwrap().patience)));
        assert!(help("intensity_mode").ends_with("[default: auto]"));
    }

    /// The rendered `train --help`: every option but the required ones and
    /// clap's own has a description and a default.
    #[test]
    fn train_help_text_gives_every_option_a_default() {
        let mut command = Cli::command().mut_subcommand("train", train_cmd::with_defaults);
        let text = command.find_subcommand_mut("train").expect("train").render_long_help().to_string();
        let mut options: Vec<(String, String)> = Vec::new();
        for line in text.lines() {
            let trimmed = line.trim_start();
            if trimmed.starts_with('-') && line.len() - trimmed.len() <= 6 {
                options.push((trimmed.split_whitespace().find(|w| w.starts_with("--")).unwrap_or(trimmed).to_string(), String::new()));
            } else if let Some((_, help)) = options.last_mut() {
                help.push_str(trimmed);
                help.push(' ');
            }
        }
        assert!(options.len() > 30, "{text}");
        let exempt = ["--data", "--out", "--verbose...", "--help"];
        let missing: Vec<_> = options
            .iter()
            .filter(|(name, help)| !exempt.contains(&name.as_str()) && !(help.len() > 20 && help.contains("[default: ")))
            .collect();
        assert!(missing.is_empty(), "options without a description or default: {missing:?}");
    }
}
