//! `kafka-consumer-groups.sh --list | --describe --group G [--members | --state]`, with Kafka's
//! column layout: per partition the committed offset, the log-end offset and the lag.

use std::process::ExitCode;
use std::time::Duration;

use kafka_client::{Admin, GroupDescription, TopicPartition};

use super::brokers::Brokers;

/// Options of `kafka-consumer-groups.sh`, as Kafka's.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The Kafka server to connect to.
    #[arg(long)]
    bootstrap_server: Option<String>,
    /// The ZooKeeper where brokers register (the old form).
    #[arg(long)]
    zookeeper: Option<String>,
    /// List all consumer groups.
    #[arg(long)]
    list: bool,
    /// Describe consumer groups: their offsets and lag (or --members, --state).
    #[arg(long)]
    describe: bool,
    /// The group(s) to describe.
    #[arg(long)]
    group: Vec<String>,
    /// Describe every group.
    #[arg(long)]
    all_groups: bool,
    /// With --describe: the members instead of the offsets.
    #[arg(long)]
    members: bool,
    /// With --describe: the group's state.
    #[arg(long)]
    state: bool,
}

/// Runs `kafka-consumer-groups.sh`.
pub(crate) async fn run(args: Args) -> anyhow::Result<ExitCode> {
    if usize::from(args.list) + usize::from(args.describe) != 1 {
        eprintln!("Command must include exactly one action: --list, --describe");
        return Ok(ExitCode::FAILURE);
    }
    let brokers = Brokers::from_flags(
        args.bootstrap_server.clone(),
        args.zookeeper.clone(),
        "bootstrap-server",
    )?;
    let result = async {
        let client = brokers.connect("kafka-consumer-groups").await?;
        let admin = Admin::new(client, Duration::from_secs(30));
        if args.list {
            for g in consumer_groups(&admin).await? {
                println!("{g}");
            }
            return Ok(());
        }
        let groups = if args.all_groups {
            consumer_groups(&admin).await?
        } else if args.group.is_empty() {
            anyhow::bail!("Option [describe] takes one of these options: [all-groups], [group]");
        } else {
            args.group.clone()
        };
        for g in groups {
            describe(&admin, &g, &args).await?;
        }
        anyhow::Ok(())
    }
    .await;
    if let Err(e) = result {
        // Kafka's ConsumerGroupCommand prints the failure on stdout and still exits with 0.
        println!("\nError: Executing consumer group command failed due to {e:#}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Groups whose protocol type is `consumer` (or empty: a group holding only offsets).
async fn consumer_groups(admin: &Admin) -> anyhow::Result<Vec<String>> {
    Ok(admin
        .list_groups()
        .await?
        .into_iter()
        .filter(|g| g.protocol_type.is_empty() || g.protocol_type == "consumer")
        .map(|g| g.group_id)
        .collect())
}

/// One row of the offsets table.
#[derive(Debug, Clone, PartialEq, Eq)]
struct OffsetRow {
    group: String,
    partition: TopicPartition,
    committed: Option<i64>,
    log_end: Option<i64>,
    consumer_id: String,
    host: String,
    client_id: String,
}

/// Prints the state line Kafka prints before a table (or instead of it); false when the group
/// does not exist.
fn print_group_state(group: &str, state: &str) -> bool {
    match state {
        "Dead" => {
            println!("\nError: Consumer group '{group}' does not exist.");
            false
        }
        "Empty" => {
            eprintln!("\nConsumer group '{group}' has no active members.");
            true
        }
        "PreparingRebalance" | "CompletingRebalance" => {
            eprintln!("\nWarning: Consumer group '{group}' is rebalancing.");
            true
        }
        _ => true,
    }
}

async fn describe(admin: &Admin, group: &str, args: &Args) -> anyhow::Result<()> {
    let desc = admin.describe_group(group).await?;
    if !print_group_state(group, &desc.state) {
        return Ok(());
    }
    if args.state {
        let coordinator = admin.client().coordinator(group).await?;
        print!(
            "{}",
            state_table(
                &desc,
                &format!("{}  ({})", coordinator.addr(), coordinator.id)
            )
        );
    } else if args.members {
        print!("{}", members_table(&desc));
    } else {
        let rows = offset_rows(admin, &desc).await?;
        if !rows.is_empty() {
            print!("{}", offsets_table(&rows));
        }
    }
    Ok(())
}

/// Members with partitions first (most partitions first), then committed partitions nobody owns.
async fn offset_rows(admin: &Admin, desc: &GroupDescription) -> anyhow::Result<Vec<OffsetRow>> {
    let committed = admin.group_offsets(&desc.group_id).await?;
    let mut members: Vec<_> = desc
        .members
        .iter()
        .filter(|m| !m.assignment.is_empty())
        .collect();
    members.sort_by_key(|m| std::cmp::Reverse(m.assignment.len()));
    let mut rows = Vec::new();
    let mut owned = std::collections::BTreeSet::new();
    for m in members {
        let mut parts = m.assignment.clone();
        parts.sort();
        for tp in parts {
            owned.insert(tp.clone());
            rows.push(OffsetRow {
                group: desc.group_id.clone(),
                committed: committed.get(&tp).copied(),
                partition: tp,
                log_end: None,
                consumer_id: m.member_id.clone(),
                host: m.client_host.clone(),
                client_id: m.client_id.clone(),
            });
        }
    }
    for (tp, offset) in &committed {
        if !owned.contains(tp) {
            rows.push(OffsetRow {
                group: desc.group_id.clone(),
                partition: tp.clone(),
                committed: Some(*offset),
                log_end: None,
                consumer_id: "-".into(),
                host: "-".into(),
                client_id: "-".into(),
            });
        }
    }
    let partitions: Vec<TopicPartition> = rows.iter().map(|r| r.partition.clone()).collect();
    let ends = admin.end_offsets(&partitions).await.unwrap_or_default();
    for r in &mut rows {
        r.log_end = ends.get(&r.partition).copied();
    }
    Ok(rows)
}

fn dash(v: Option<i64>) -> String {
    v.map_or_else(|| "-".into(), |v| v.to_string())
}

/// Kafka's offsets table: a blank line, the header, a line per row, widths from the content.
fn offsets_table(rows: &[OffsetRow]) -> String {
    let width = |f: &dyn Fn(&OffsetRow) -> usize| rows.iter().map(f).fold(15, usize::max);
    let g = width(&|r| r.group.len());
    let t = width(&|r| r.partition.topic.len());
    let c = width(&|r| r.consumer_id.len());
    let h = width(&|r| r.host.len());
    let line = |cols: [&str; 9]| {
        format!(
            "\n{:<g$} {:<t$} {:<10} {:<15} {:<15} {:<15} {:<c$} {:<h$} {}",
            cols[0], cols[1], cols[2], cols[3], cols[4], cols[5], cols[6], cols[7], cols[8]
        )
    };
    let mut out = line([
        "GROUP",
        "TOPIC",
        "PARTITION",
        "CURRENT-OFFSET",
        "LOG-END-OFFSET",
        "LAG",
        "CONSUMER-ID",
        "HOST",
        "CLIENT-ID",
    ]);
    for r in rows {
        let lag = match (r.committed, r.log_end) {
            (Some(c), Some(e)) if c >= 0 => Some(e - c),
            _ => None,
        };
        out.push_str(&line([
            &r.group,
            &r.partition.topic,
            &r.partition.partition.to_string(),
            &dash(r.committed),
            &dash(r.log_end),
            &dash(lag),
            &r.consumer_id,
            &r.host,
            &r.client_id,
        ]));
    }
    out.push('\n');
    out
}

/// Kafka's `--members` table.
fn members_table(desc: &GroupDescription) -> String {
    let width = |f: &dyn Fn(&kafka_client::GroupMemberDescription) -> usize| {
        desc.members.iter().map(f).fold(15, usize::max)
    };
    let g = desc.group_id.len().max(15);
    let c = width(&|m| m.member_id.len());
    let h = width(&|m| m.client_host.len());
    let k = width(&|m| m.client_id.len());
    let mut out = format!(
        "\n{:<g$} {:<c$} {:<h$} {:<k$} {:<15} \n",
        "GROUP", "CONSUMER-ID", "HOST", "CLIENT-ID", "#PARTITIONS"
    );
    for m in &desc.members {
        out.push_str(&format!(
            "{:<g$} {:<c$} {:<h$} {:<k$} {:<15} \n",
            desc.group_id,
            m.member_id,
            m.client_host,
            m.client_id,
            m.assignment.len()
        ));
    }
    out
}

/// Kafka's `--state` table.
fn state_table(desc: &GroupDescription, coordinator: &str) -> String {
    let g = desc.group_id.len().max(15);
    let c = coordinator.len().max(25);
    let strategy = if desc.protocol.is_empty() {
        "-"
    } else {
        &desc.protocol
    };
    let line = |a: &str, b: &str, s: &str, st: &str, n: &str| {
        format!("\n{a:<g$} {b:<c$} {s:<20} {st:<20} {n}")
    };
    let mut out = line(
        "GROUP",
        "COORDINATOR (ID)",
        "ASSIGNMENT-STRATEGY",
        "STATE",
        "#MEMBERS",
    );
    out.push_str(&line(
        &desc.group_id,
        coordinator,
        strategy,
        &desc.state,
        &desc.members.len().to_string(),
    ));
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_offsets_table_has_kafkas_columns_and_lag() {
        let rows = vec![
            OffsetRow {
                group: "test".into(),
                partition: TopicPartition::new("Hello-Kafka", 0),
                committed: Some(7),
                log_end: Some(10),
                consumer_id: "consumer-1-abc".into(),
                host: "/127.0.0.1".into(),
                client_id: "consumer-1".into(),
            },
            OffsetRow {
                group: "test".into(),
                partition: TopicPartition::new("Hello-Kafka", 1),
                committed: None,
                log_end: Some(3),
                consumer_id: "-".into(),
                host: "-".into(),
                client_id: "-".into(),
            },
        ];
        let text = offsets_table(&rows);
        let lines: Vec<&str> = text.split('\n').collect();
        assert_eq!(lines[0], "");
        assert_eq!(
            lines[1],
            "GROUP           TOPIC           PARTITION  CURRENT-OFFSET  LOG-END-OFFSET  LAG             CONSUMER-ID     HOST            CLIENT-ID"
        );
        assert_eq!(
            lines[2],
            "test            Hello-Kafka     0          7               10              3               consumer-1-abc  /127.0.0.1      consumer-1"
        );
        assert!(lines[3].starts_with(
            "test            Hello-Kafka     1          -               3               -  "
        ));
        assert_eq!(lines[4], "");
    }
}
