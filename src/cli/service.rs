//! `ccrsim service`: create, get, list, update, terminate, wait, types.

use std::io::Write;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::cli::args::{OutputArgs, ServiceCmd};
use crate::cli::client::{ApiClient, seg};
use crate::cli::error::CliError;
use crate::cli::output::{self, field, format_template, json_out, node_table, table, w};
use crate::cli::user_config;

const SERVICE_HEADERS: [&str; 8] = [
    "SERVICE_NAME",
    "SERVICE_TYPE",
    "STATE",
    "CLOUD_NAME",
    "PLAN",
    "CREATE_TIME",
    "UPDATE_TIME",
    "NOTIFICATIONS",
];

fn print_services(
    out: &mut (dyn Write + Send),
    services: &[Value],
    o: &OutputArgs,
) -> Result<(), CliError> {
    if o.json {
        return json_out(out, &Value::Array(services.to_vec()));
    }
    if let Some(t) = &o.format {
        for s in services {
            w(
                out,
                &format!("{}\n", format_template(t, s).map_err(CliError::Usage)?),
            )?;
        }
        return Ok(());
    }
    let rows: Vec<Vec<String>> = services
        .iter()
        .map(|s| {
            let mut row: Vec<String> = SERVICE_HEADERS[..7]
                .iter()
                .map(|h| field(s, &h.to_ascii_lowercase()))
                .collect();
            row.push(String::new());
            row
        })
        .collect();
    w(out, &table(&SERVICE_HEADERS, &rows))
}

fn print_one(
    out: &mut (dyn Write + Send),
    service: &Value,
    o: &OutputArgs,
) -> Result<(), CliError> {
    if o.json {
        return json_out(out, service);
    }
    print_services(out, std::slice::from_ref(service), o)
}

pub async fn service(
    api: &ApiClient,
    p: &str,
    cmd: &ServiceCmd,
    out: &mut (dyn Write + Send),
) -> Result<(), CliError> {
    match cmd {
        ServiceCmd::Create {
            service_name,
            service_type,
            plan,
            cloud,
            disk_space_gib,
            config,
            termination_protection,
            no_fail_if_exists,
            out: o,
        } => {
            create(
                api,
                p,
                service_name,
                service_type,
                plan,
                cloud.as_deref(),
                *disk_space_gib,
                config,
                *termination_protection,
                *no_fail_if_exists,
                o,
                out,
            )
            .await
        }
        ServiceCmd::Get {
            service_name,
            verbose,
            out: o,
        } => get(api, p, service_name, *verbose, o, out).await,
        ServiceCmd::List {
            service_names,
            out: o,
        } => list(api, p, service_names, o, out).await,
        ServiceCmd::Update {
            service_name,
            plan,
            cloud,
            disk_space_gib,
            config,
            power_off,
            power_on,
            enable_termination_protection,
            disable_termination_protection,
            out: o,
        } => {
            update(
                api,
                p,
                service_name,
                plan.as_deref(),
                cloud.as_deref(),
                *disk_space_gib,
                config,
                *power_off,
                *power_on,
                *enable_termination_protection,
                *disable_termination_protection,
                o,
                out,
            )
            .await
        }
        ServiceCmd::Terminate {
            service_names,
            force,
        } => terminate(api, p, service_names, *force, out).await,
        ServiceCmd::Wait {
            service_name,
            timeout,
        } => wait(api, p, service_name, *timeout, out).await,
        ServiceCmd::Types { json } => types(api, p, *json, out).await,
    }
}

/// `service create`: a new service, or with `-c service_to_join_with=NAME` the second of a CCR pair.
#[allow(clippy::too_many_arguments)]
async fn create(
    api: &ApiClient,
    p: &str,
    service_name: &str,
    service_type: &str,
    plan: &str,
    cloud: Option<&str>,
    disk_space_gib: Option<u64>,
    config: &[String],
    termination_protection: bool,
    no_fail_if_exists: bool,
    o: &OutputArgs,
    out: &mut (dyn Write + Send),
) -> Result<(), CliError> {
    let user_config = if config.is_empty() {
        json!({})
    } else {
        // Typed by the service type's schema; for a type the API does
        // not offer, sent as strings and left to the API to refuse.
        let schema = user_config_schema(api, p, service_type).await?;
        user_config::parse(config, schema.as_ref())?
    };
    let mut body = json!({
        "service_name": service_name,
        "service_type": service_type,
        "plan": plan,
        "user_config": user_config,
    });
    if let Some(c) = cloud {
        body["cloud"] = json!(c);
    }
    if let Some(g) = disk_space_gib {
        body["disk_space_mb"] = json!(g.saturating_mul(1024));
    }
    if termination_protection {
        body["termination_protection"] = json!(true);
    }
    let v = match api.post(&format!("{p}/service"), &body).await {
        Ok(v) => v,
        Err(CliError::Api { status: 409, .. }) if no_fail_if_exists => {
            api.get(&format!("{p}/service/{}", seg(service_name)))
                .await?
        }
        Err(e) => return Err(e),
    };
    print_one(out, &v["service"], o)
}

/// `service get`: one service; with `-v` its details too.
async fn get(
    api: &ApiClient,
    p: &str,
    service_name: &str,
    verbose: bool,
    o: &OutputArgs,
    out: &mut (dyn Write + Send),
) -> Result<(), CliError> {
    let v = api
        .get(&format!("{p}/service/{}", seg(service_name)))
        .await?;
    let s = &v["service"];
    print_one(out, s, o)?;
    if verbose && !o.json && o.format.is_none() {
        print_details(out, s)?;
    }
    Ok(())
}

/// `service list`: all services, or those named.
async fn list(
    api: &ApiClient,
    p: &str,
    service_names: &[String],
    o: &OutputArgs,
    out: &mut (dyn Write + Send),
) -> Result<(), CliError> {
    let v = api.get(&format!("{p}/service")).await?;
    let services: Vec<Value> = v["services"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|s| {
            service_names.is_empty() || service_names.iter().any(|n| s["service_name"] == json!(n))
        })
        .collect();
    print_services(out, &services, o)
}

/// `service update`: plan, cloud, disk, user config, power, termination protection.
#[allow(clippy::too_many_arguments)]
async fn update(
    api: &ApiClient,
    p: &str,
    service_name: &str,
    plan: Option<&str>,
    cloud: Option<&str>,
    disk_space_gib: Option<u64>,
    config: &[String],
    power_off: bool,
    power_on: bool,
    enable_termination_protection: bool,
    disable_termination_protection: bool,
    o: &OutputArgs,
    out: &mut (dyn Write + Send),
) -> Result<(), CliError> {
    let mut body = json!({});
    if !config.is_empty() {
        let schema = user_config_schema(api, p, "cassandra").await?;
        body["user_config"] = user_config::parse(config, schema.as_ref())?;
    }
    if let Some(plan) = plan {
        body["plan"] = json!(plan);
    }
    if let Some(cloud) = cloud {
        body["cloud"] = json!(cloud);
    }
    if let Some(g) = disk_space_gib {
        body["disk_space_mb"] = json!(g.saturating_mul(1024));
    }
    if power_off {
        body["powered"] = json!(false);
    }
    if power_on {
        body["powered"] = json!(true);
    }
    if enable_termination_protection {
        body["termination_protection"] = json!(true);
    }
    if disable_termination_protection {
        body["termination_protection"] = json!(false);
    }
    if body.as_object().is_some_and(|o| o.is_empty()) {
        return Err(CliError::Usage("nothing to update: give -c, --plan, --disk-space-gib, --power-off/--power-on or a termination protection flag".into()));
    }
    let v = api
        .put(&format!("{p}/service/{}", seg(service_name)), &body)
        .await?;
    print_one(out, &v["service"], o)
}

/// `service terminate`: each service named, after confirmation unless `--force`.
async fn terminate(
    api: &ApiClient,
    p: &str,
    service_names: &[String],
    force: bool,
    out: &mut (dyn Write + Send),
) -> Result<(), CliError> {
    if !force {
        confirm_termination(service_names)?;
    }
    for name in service_names {
        let v = api.delete(&format!("{p}/service/{}", seg(name))).await?;
        w(out, &format!("{}\n", field(&v, "message")))?;
        if let Some(peer) = v["standalone_peer"].as_str() {
            w(out, &format!("'{peer}' is now a standalone service\n"))?;
        }
    }
    Ok(())
}

/// `service wait`: until the service is RUNNING, with bars for work under way.
async fn wait(
    api: &ApiClient,
    p: &str,
    service_name: &str,
    timeout: u64,
    out: &mut (dyn Write + Send),
) -> Result<(), CliError> {
    let deadline = Instant::now() + Duration::from_secs(timeout);
    let mut shown = String::new();
    loop {
        let v = api
            .get(&format!("{p}/service/{}", seg(service_name)))
            .await?;
        let s = &v["service"];
        // Work under way (joining a pair, a plan change): a bar per step.
        let bars = progress_bars(s);
        if !bars.is_empty() && bars != shown {
            w(out, &format!("{bars}\n"))?;
            let _ = out.flush();
            shown = bars;
        }
        if s["state"] == "RUNNING" {
            w(out, &format!("Service '{service_name}' is RUNNING\n"))?;
            return Ok(());
        }
        if Instant::now() >= deadline {
            let why: Vec<String> = s["ccrsim"]["nodes"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|n| {
                    n["message"]
                        .as_str()
                        .map(|m| format!("{}: {m}", field(n, "name")))
                })
                .collect();
            let mut msg = format!(
                "Service '{service_name}' is still {} after {timeout} s",
                field(s, "state")
            );
            if let Some(first) = why.first() {
                msg.push_str(&format!("; {first}"));
            }
            return Err(CliError::Usage(msg));
        }
        tokio::time::sleep(Duration::from_millis(500).min(deadline - Instant::now())).await;
    }
}

/// `service types`: service types and their plans.
async fn types(
    api: &ApiClient,
    p: &str,
    json: bool,
    out: &mut (dyn Write + Send),
) -> Result<(), CliError> {
    let v = api.get(&format!("{p}/service_types")).await?;
    if json {
        return json_out(out, &v["service_types"]);
    }
    let mut rows = Vec::new();
    if let Some(types) = v["service_types"].as_object() {
        for (name, t) in types {
            for plan in t["service_plans"].as_array().into_iter().flatten() {
                rows.push(vec![
                    name.clone(),
                    field(plan, "service_plan"),
                    field(plan, "node_count"),
                    format!("{}", plan["disk_space_mb"].as_u64().unwrap_or(0) / 1024),
                    if plan["ccrsim_ccr_allowed"] == json!(true) {
                        "yes".into()
                    } else {
                        "no".into()
                    },
                ]);
            }
        }
    }
    w(
        out,
        &table(
            &["SERVICE_TYPE", "PLAN", "NODE_COUNT", "DISK_GIB", "CCR"],
            &rows,
        ),
    )
}

fn confirm_termination(names: &[String]) -> Result<(), CliError> {
    let mut err = std::io::stderr();
    for name in names {
        let _ = write!(
            err,
            "Re-enter service name '{name}' to confirm termination: "
        );
        let _ = err.flush();
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .map_err(|e| CliError::Io(format!("cannot read confirmation: {e}")))?;
        if line.trim() != name {
            return Err(CliError::Usage(format!(
                "not terminating '{name}': the name did not match (use --force to skip the question)"
            )));
        }
    }
    Ok(())
}

/// The `user_config_schema` of a service type, or `None` when the API does not offer the type.
async fn user_config_schema(
    api: &ApiClient,
    p: &str,
    service_type: &str,
) -> Result<Option<Value>, CliError> {
    match api
        .get(&format!("{p}/service-types/{}", seg(service_type)))
        .await
    {
        Ok(v) => Ok(Some(v["user_config_schema"].clone())),
        Err(CliError::Api { status: 404, .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

fn print_details(out: &mut (dyn Write + Send), s: &Value) -> Result<(), CliError> {
    w(
        out,
        &format!(
            "\nSERVICE_URI: {}\nDATACENTER: {}\nDISK: {} GiB\nUSER_CONFIG: {}\n",
            field(s, "service_uri"),
            field(s, "ccrsim.datacenter"),
            s["disk_space_mb"].as_u64().unwrap_or(0) / 1024,
            s["user_config"],
        ),
    )?;
    match s["ccrsim"]["pair"].as_object() {
        Some(pair) => w(
            out,
            &format!(
                "CCR PAIR: with {} (datacenter {})\n",
                output::text(&pair["peer_service"]),
                output::text(&pair["peer_datacenter"])
            ),
        )?,
        None => w(out, "CCR PAIR: none (standalone)\n")?,
    }
    w(out, "\n")?;
    w(out, &node_table(&s["ccrsim"]["nodes"]))
}

/// The first node's progress updates as bars: `stream [#####-----] 1/2 nodes`.
fn progress_bars(s: &Value) -> String {
    let updates = s["node_states"]
        .as_array()
        .and_then(|n| n.first())
        .and_then(|n| n["progress_updates"].as_array().cloned())
        .unwrap_or_default();
    updates
        .iter()
        .map(|u| {
            let (cur, max) = (
                u["current"].as_u64().unwrap_or(0),
                u["max"].as_u64().unwrap_or(0).max(1),
            );
            let filled = (cur.min(max) * 20 / max) as usize;
            format!(
                "{} [{}{}] {cur}/{max} {}",
                field(u, "phase"),
                "#".repeat(filled),
                "-".repeat(20 - filled),
                field(u, "unit")
            )
        })
        .collect::<Vec<_>>()
        .join("  ")
}
