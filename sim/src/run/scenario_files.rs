//! Scenarios as the command line names them: a file, a directory of
//! files, or none (the built-in default). Every error names the file it
//! comes from, and a scenario keeps the path it was named by, for the
//! replay commands of its failures.

use std::path::Path;

use crate::run::scenario::Scenario;

/// A scenario and the file it was loaded from (`None`: the built-in one).
#[derive(Debug, Clone)]
pub struct ScenarioSource {
    pub scenario: Scenario,
    pub path: Option<String>,
}

impl ScenarioSource {
    /// The built-in scenario.
    pub fn built_in() -> ScenarioSource {
        ScenarioSource {
            scenario: Scenario::default(),
            path: None,
        }
    }

    /// How an error names this scenario's origin: its file, or
    /// "the built-in scenario".
    pub fn shown_in_errors(&self) -> String {
        match &self.path {
            Some(path) => path.clone(),
            None => format!("the built-in scenario {:?}", self.scenario.name),
        }
    }
}

impl ScenarioSource {
    /// The error of a run of this scenario that could not start (its
    /// configuration was refused), naming the file and the seed.
    pub fn start_error(&self, seed: u64, error: &str) -> String {
        format!(
            "{}: seed {seed}: the run could not start: {error}",
            self.shown_in_errors()
        )
    }
}

/// Loads one scenario file; the error names the file.
pub fn load_scenario_file(path: &str) -> Result<ScenarioSource, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let scenario = Scenario::parse(&text).map_err(|e| format!("{path}: {e}"))?;
    Ok(ScenarioSource {
        scenario,
        path: Some(path.to_string()),
    })
}

/// Loads every scenario named: a file, or a directory (each `*.toml` in
/// it, sorted by name). None named: the built-in scenario. Two scenarios
/// with one name are an error, since a swarm groups its runs by name.
pub fn load_scenarios(paths: &[String]) -> Result<Vec<ScenarioSource>, String> {
    if paths.is_empty() {
        return Ok(vec![ScenarioSource::built_in()]);
    }
    let mut sources: Vec<ScenarioSource> = Vec::new();
    for path in paths {
        for file in scenario_files(path)? {
            let source = load_scenario_file(&file)?;
            if let Some(twin) = sources
                .iter()
                .find(|s| s.scenario.name == source.scenario.name)
            {
                return Err(format!(
                    "{file}: the scenario name {:?} is already used by {}; \
                     a swarm groups runs by scenario name, so names must differ",
                    source.scenario.name,
                    twin.shown_in_errors()
                ));
            }
            sources.push(source);
        }
    }
    Ok(sources)
}

/// `path` itself, or the `*.toml` files in it when it is a directory.
fn scenario_files(path: &str) -> Result<Vec<String>, String> {
    if !Path::new(path).is_dir() {
        return Ok(vec![path.to_string()]);
    }
    let entries = std::fs::read_dir(path).map_err(|e| format!("{path}: {e}"))?;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| format!("{path}: {e}"))?;
        let name = entry.file_name();
        let name = name
            .to_str()
            .ok_or_else(|| format!("{path}: a file name is not UTF-8: {name:?}"))?;
        if name.ends_with(".toml") && !entry.path().is_dir() {
            names.push(name.to_string());
        }
    }
    if names.is_empty() {
        return Err(format!("{path}: a directory with no *.toml scenario file"));
    }
    names.sort();
    let directory = path.trim_end_matches('/');
    Ok(names
        .into_iter()
        .map(|name| format!("{directory}/{name}"))
        .collect())
}
