//! `ccrsim project`: create and list projects.

use std::io::Write;

use serde_json::{Value, json};

use crate::cli::args::ProjectCmd;
use crate::cli::client::ApiClient;
use crate::cli::error::CliError;
use crate::cli::output::{field, json_out, table, w};

pub async fn project(
    api: &ApiClient,
    cmd: &ProjectCmd,
    out: &mut (dyn Write + Send),
) -> Result<(), CliError> {
    let rows = |projects: &[Value]| -> Vec<Vec<String>> {
        projects
            .iter()
            .map(|p| {
                vec![
                    field(p, "project_name"),
                    field(p, "default_cloud"),
                    field(p, "create_time"),
                ]
            })
            .collect()
    };
    let headers = ["PROJECT_NAME", "DEFAULT_CLOUD", "CREATE_TIME"];
    match cmd {
        ProjectCmd::Create { name, json } => {
            let v = api.post("/v1/project", &json!({ "project": name })).await?;
            if *json {
                json_out(out, &v["project"])
            } else {
                w(
                    out,
                    &table(&headers, &rows(std::slice::from_ref(&v["project"]))),
                )
            }
        }
        ProjectCmd::List { json } => {
            let v = api.get("/v1/project").await?;
            let projects = v["projects"].as_array().cloned().unwrap_or_default();
            if *json {
                json_out(out, &v["projects"])
            } else {
                w(out, &table(&headers, &rows(&projects)))
            }
        }
    }
}
