//! `sync({ live: true })`: the polling catch-up of `SyncRun`, then the object's Change Data
//! Capture channel over the Pub/Sub API, as one iterator of steps.
//!
//! The subscription is opened (at `LATEST`) before the catch-up reads anything, so every change
//! committed after the catch-up's end is on the stream: none falls between the two, and a change
//! seen by both is applied twice, which converges (events replay in commit order). The stream's
//! checkpoint is the catch-up's last state plus the replay id of the last event delivered.
//! Resuming one resubscribes after that replay id; when Salesforce no longer retains it the run
//! polls from the state's modstamp (with the lookback) under a fresh subscription, as above.
//!
//! Each FetchResponse becomes one step: records merged per Id in commit order (CREATE/UNDELETE
//! whole, UPDATE as a patch of changed and nulled fields), deletes, and the Ids whose values an
//! event cannot give (gap events, data-diff fields, parent fields, a person's full Name) re-read
//! over REST. Redelivered events are dropped by EventUuid; `GAP_OVERFLOW` polls from the walk's
//! state before the stream goes on.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Duration;

use serde_json::{Map, Value};
use tonic::transport::Channel;

use super::checkpoint::{Phase, Pos, Sealer, State};
use super::{Deleted, Step, SyncOptions, SyncRun};
use crate::error::{Error, Result};
use crate::events::Event;
use crate::salesforce::describe::DescribeCache;
use crate::salesforce::export::QueryPage;
use crate::salesforce::pubsub::avro::{iso_date, iso_millis, SchemaCache};
use crate::salesforce::pubsub::channel::{self, Credentials};
use crate::salesforce::pubsub::proto::pub_sub_client::PubSubClient;
use crate::salesforce::pubsub::stream::{self, Received, Start, Subscription};
use crate::salesforce::pubsub::{topic_of, PubSubError};
use crate::salesforce::rest::{query_path, Rest};
use crate::salesforce::soql::Literal;
use crate::secret::StateSecret;
use crate::token::record::ConnKey;

/// Salesforce sends a keepalive at least every 270 s: past 300 s of silence the stream is stalled.
pub const DEFAULT_STALL_MS: u64 = 300_000;
/// Consecutive failed (re)subscriptions before the run fails with SALESFORCE_UNAVAILABLE.
const MAX_FAILURES: u32 = 8;
/// Backoff between resubscriptions: doubling from this, at most `MAX_BACKOFF`.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Replay ids and EventUuids remembered to drop redelivered events.
const MAX_DEDUP: usize = 10_000;
/// Ids re-read per gap query.
const GAP_CHUNK: usize = 200;

/// What the live part of a run is doing.
enum Mode {
    Start,
    /// Polling (the catch-up, a replay-expiry or overflow catch-up).
    Poll(Box<SyncRun>),
    Stream,
    /// The API budget stopped the catch-up: the run ends (resuming polls the rest first).
    Done,
}

/// Recently delivered events, by replay id and by EventUuid.
#[derive(Default)]
struct Dedup {
    order: VecDeque<(Vec<u8>, String)>,
    replays: HashSet<Vec<u8>>,
    uuids: HashSet<String>,
}

impl Dedup {
    /// False when the event was delivered already: the same EventUuid, or for an event without
    /// one the same replay id (replay ids alone can repeat after an org migration).
    fn admit(&mut self, replay: &[u8], uuid: &str) -> bool {
        let seen = if uuid.is_empty() {
            self.replays.contains(replay)
        } else {
            self.uuids.contains(uuid)
        };
        if seen {
            return false;
        }
        self.replays.insert(replay.to_vec());
        if !uuid.is_empty() {
            self.uuids.insert(uuid.to_string());
        }
        self.order.push_back((replay.to_vec(), uuid.to_string()));
        while self.order.len() > MAX_DEDUP {
            if let Some((r, u)) = self.order.pop_front() {
                self.replays.remove(&r);
                self.uuids.remove(&u);
            }
        }
        true
    }
}

pub struct LiveRun {
    pub key: ConnKey,
    opts: SyncOptions,
    stall: Duration,
    topic: String,
    mode: Mode,
    /// The walk's state the stream's checkpoints carry (the last polled step's).
    base: Option<State>,
    replay: Option<Vec<u8>>,
    client: Option<PubSubClient<Channel>>,
    creds: Option<Credentials>,
    sub: Option<Subscription>,
    schemas: SchemaCache,
    dedup: Dedup,
    failures: u32,
    /// Describe types by lower-case field name (dates and datetimes are formatted as REST's).
    kinds: Option<HashMap<String, String>>,
    /// Relationship name (lower case) → its reference field (`account` → `AccountId`).
    rels: HashMap<String, String>,
}

fn now_ms() -> i64 {
    crate::oauth::state::now_millis()
}

impl LiveRun {
    pub fn new(key: ConnKey, opts: SyncOptions, stall_ms: Option<u64>) -> Self {
        let topic = topic_of(opts.ty.object.as_str());
        Self {
            key,
            stall: Duration::from_millis(stall_ms.unwrap_or(DEFAULT_STALL_MS)),
            topic,
            opts,
            mode: Mode::Start,
            base: None,
            replay: None,
            client: None,
            creds: None,
            sub: None,
            schemas: SchemaCache::default(),
            dedup: Dedup::default(),
            failures: 0,
            kinds: None,
            rels: HashMap::new(),
        }
    }

    /// The Bulk job of a catch-up under way (aborted when the run is closed).
    pub fn abortable_job(&self) -> Option<String> {
        match &self.mode {
            Mode::Poll(r) => r.abortable_job(),
            _ => None,
        }
    }

    /// Ends the stream (the gRPC call is cancelled when its halves are dropped).
    pub fn stop(&mut self) {
        self.sub = None;
        self.client = None;
    }

    fn sealer<'a>(&'a self, secret: &'a StateSecret) -> Sealer<'a> {
        self.opts.sealer(secret, &self.key)
    }

    fn emit(
        &self,
        rest: &Rest<'_>,
        kind: &'static str,
        reason: Option<&'static str>,
        ids: Option<Vec<String>>,
        from: Option<&'static str>,
    ) {
        let org = self.creds.as_ref().map(|c| c.tenant_id.clone());
        rest.cfg.events.emit(|| Event::ChangeStream {
            connection: (&self.key).into(),
            org_id: org,
            type_name: self.opts.type_name.clone(),
            kind,
            reason,
            record_ids: ids,
            replay_from: from,
        });
    }

    /// The connection's credentials for Pub/Sub (a fresh token when `stale` is the current one).
    /// New credentials after Salesforce refused the ones the stream presented (single flight
    /// through the token manager, past the refused access token).
    async fn renew_credentials(&mut self, rest: &Rest<'_>) -> Result<()> {
        let stale = self
            .creds
            .as_ref()
            .map(|c| c.access_token.clone())
            .unwrap_or_default();
        self.credentials(rest, Some(&stale)).await
    }

    async fn credentials(&mut self, rest: &Rest<'_>, stale: Option<&str>) -> Result<()> {
        let rec = match stale {
            Some(s) => rest.tokens.refresh(&self.key, s).await?,
            None => rest.tokens.usable(&self.key).await?,
        };
        let instance_url = rec
            .token
            .instance_url
            .clone()
            .ok_or_else(|| Error::Unavailable("the connection has no instance URL".into()))?;
        let tenant_id = crate::events::org_of(rec.token.id.as_deref())
            .ok_or_else(|| Error::Unavailable("the connection's org id is unknown".into()))?;
        self.creds = Some(Credentials {
            access_token: rec.token.access_token.expose().to_string(),
            instance_url,
            tenant_id,
        });
        Ok(())
    }

    /// Opens the subscription from `start`.
    async fn open(
        &mut self,
        rest: &Rest<'_>,
        start: &Start,
    ) -> std::result::Result<(), PubSubError> {
        if self.client.is_none() {
            self.client = Some(channel::connect(rest.cfg.pubsub_url.as_str())?);
        }
        let (Some(client), Some(creds)) = (self.client.as_mut(), self.creds.as_ref()) else {
            return Err(PubSubError::Unavailable("no connection".into()));
        };
        self.sub = None;
        self.sub = Some(Subscription::open(client, creds, &self.topic, start).await?);
        Ok(())
    }

    /// A polling run from `checkpoint` (None: from scratch), with the run's other options.
    fn poll_from(&self, checkpoint: Option<String>, secret: &StateSecret) -> Result<Box<SyncRun>> {
        let mut opts = self.opts.clone();
        opts.checkpoint = checkpoint;
        Ok(Box::new(SyncRun::new(self.key.clone(), opts, secret)?))
    }

    /// The walk's state as a checkpoint (no replay id): where a fallback catch-up starts.
    fn base_checkpoint(&self, secret: &StateSecret) -> Result<Option<String>> {
        match &self.base {
            // Without the rows it remembers as delivered: the stream may have changed or deleted
            // them since, so the catch-up delivers every row of the lookback again.
            Some(b) => {
                let mut b = b.clone();
                b.seen.clear();
                self.sealer(secret).seal(&b).map(Some)
            }
            None => Ok(self.opts.checkpoint.clone()),
        }
    }

    /// Subscribes at `LATEST`, then catches up by polling from the walk's state.
    async fn fallback(&mut self, rest: &Rest<'_>, secret: &StateSecret) -> Result<()> {
        self.replay = None;
        self.subscribe_or_retry(rest, Start::Latest, None).await?;
        self.mode = Mode::Poll(self.poll_from(self.base_checkpoint(secret)?, secret)?);
        Ok(())
    }

    /// Opens a subscription, retrying transient failures with backoff (bounded); false when the
    /// replay id to start after is no longer retained.
    async fn subscribe_or_retry(
        &mut self,
        rest: &Rest<'_>,
        start: Start,
        reason: Option<&'static str>,
    ) -> Result<bool> {
        let from = match start {
            Start::Latest => "LATEST",
            Start::After(_) => "CUSTOM",
        };
        // The token's own failures (RECONNECT_REQUIRED …) are the run's, not the stream's.
        if self.creds.is_none() {
            self.credentials(rest, None).await?;
        }
        loop {
            match self.open(rest, &start).await {
                Ok(()) => {
                    match reason {
                        Some(r) => self.emit(rest, "resubscribed", Some(r), None, Some(from)),
                        None => self.emit(rest, "subscribed", None, None, Some(from)),
                    }
                    return Ok(true);
                }
                Err(PubSubError::ReplayExpired) => return Ok(false),
                Err(PubSubError::Auth) => {
                    self.failures += 1;
                    if self.failures > 2 {
                        return Err(PubSubError::Auth.into());
                    }
                    self.renew_credentials(rest).await?;
                }
                Err(
                    e @ (PubSubError::Unavailable(_)
                    | PubSubError::Internal(_)
                    | PubSubError::Stall),
                ) => {
                    self.failures += 1;
                    if self.failures > MAX_FAILURES {
                        return Err(e.into());
                    }
                    self.client = None;
                    tokio::time::sleep(self.backoff()).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The pause before the next resubscription: doubling, jittered, bounded.
    fn backoff(&self) -> Duration {
        let n = self.failures.saturating_sub(1).min(10);
        let base = FIRST_BACKOFF.saturating_mul(1 << n).min(MAX_BACKOFF);
        let jitter = rand::random::<u64>() % (base.as_millis() as u64 / 4 + 1);
        base + Duration::from_millis(jitter)
    }

    /// After a stream failure: refresh, back off, resubscribe from the last replay id (or fall
    /// back to polling when there is none, or it expired).
    async fn recover(
        &mut self,
        e: PubSubError,
        rest: &Rest<'_>,
        secret: &StateSecret,
    ) -> Result<()> {
        self.sub = None;
        if matches!(e, PubSubError::ReplayExpired) {
            self.emit(rest, "replayExpired", None, None, None);
            return self.fallback(rest, secret).await;
        }
        let Some(reason) = e.reason() else {
            return Err(e.into());
        };
        // A stall is silence, not a failure: it is retried at once, paced by the stall window.
        if !matches!(e, PubSubError::Stall) {
            self.failures += 1;
        }
        if self.failures > MAX_FAILURES {
            return Err(e.into());
        }
        if matches!(e, PubSubError::Stall) {
            self.client = None;
        } else if matches!(e, PubSubError::Auth) {
            self.renew_credentials(rest).await?;
        } else {
            self.client = None;
            tokio::time::sleep(self.backoff()).await;
        }
        match self.replay.clone() {
            Some(r) => {
                if !self
                    .subscribe_or_retry(rest, Start::After(r), Some(reason))
                    .await?
                {
                    self.emit(rest, "replayExpired", None, None, None);
                    self.fallback(rest, secret).await?;
                }
                Ok(())
            }
            None => {
                // No position on the stream yet: poll from the walk's state under a new one.
                // (Nothing to replay from, so a LATEST start cannot have expired.)
                self.subscribe_or_retry(rest, Start::Latest, Some(reason))
                    .await?;
                self.mode = Mode::Poll(self.poll_from(self.base_checkpoint(secret)?, secret)?);
                Ok(())
            }
        }
    }

    pub async fn next(
        &mut self,
        rest: &Rest<'_>,
        describes: &DescribeCache,
        secret: &StateSecret,
    ) -> Result<Option<Step>> {
        loop {
            match &mut self.mode {
                Mode::Start => self.start(rest, secret).await?,
                Mode::Poll(run) => match run.next(rest, describes, secret).await? {
                    Some(mut step) => {
                        self.base = Some(self.sealer(secret).open(&step.checkpoint)?);
                        step.meta.insert("source".into(), Value::from("poll"));
                        if !self.opts.ty.attributes && step.upserts > 0 {
                            // One record shape across the run: stream records honour
                            // `attributes: false`, so the catch-up's do too.
                            step.upserts_json =
                                crate::salesforce::attributes::strip(&step.upserts_json);
                        }
                        if step.meta.get("done") == Some(&Value::Bool(false)) {
                            // Streaming now would skip what the catch-up has not read; its
                            // checkpoint has no replay id, so a resumed run polls first.
                            self.stop();
                            self.mode = Mode::Done;
                        }
                        return Ok(Some(step));
                    }
                    None => self.mode = Mode::Stream,
                },
                Mode::Done => return Ok(None),
                Mode::Stream => {
                    if let Some(step) = self.stream_step(rest, describes, secret).await? {
                        return Ok(Some(step));
                    }
                }
            }
        }
    }

    async fn start(&mut self, rest: &Rest<'_>, secret: &StateSecret) -> Result<()> {
        let from = match &self.opts.checkpoint {
            Some(text) => Some(self.sealer(secret).open_live(text)?),
            None => None,
        };
        match from {
            Some((state, Some(replay))) => {
                self.base = Some(state);
                self.replay = Some(replay.clone());
                self.credentials(rest, None).await?;
                match self.open(rest, &Start::After(replay)).await {
                    Ok(()) => {
                        self.emit(rest, "subscribed", None, None, Some("CUSTOM"));
                        self.mode = Mode::Stream;
                        Ok(())
                    }
                    Err(PubSubError::ReplayExpired) => {
                        self.emit(rest, "replayExpired", None, None, None);
                        self.fallback(rest, secret).await
                    }
                    Err(e) if e.reason().is_some() => {
                        self.mode = Mode::Stream;
                        self.recover(e, rest, secret).await
                    }
                    Err(e) => Err(e.into()),
                }
            }
            _ => {
                self.subscribe_or_retry(rest, Start::Latest, None).await?;
                self.mode = Mode::Poll(self.poll_from(self.opts.checkpoint.clone(), secret)?);
                Ok(())
            }
        }
    }

    fn checkpoint(&self, secret: &StateSecret) -> Result<String> {
        let fallback = State {
            phase: Phase::Walk {
                pos: Pos { ts: 0, id: None },
            },
            deletes_at: 0,
            earliest: 0,
            seen: String::new(),
            fields: None,
            formula_at: None,
            formula_after: None,
            formula: None,
        };
        self.sealer(secret).seal_live(
            self.base.as_ref().unwrap_or(&fallback),
            self.replay.as_deref(),
        )
    }

    /// The next stream step; None when a response brought nothing to hand out.
    async fn stream_step(
        &mut self,
        rest: &Rest<'_>,
        describes: &DescribeCache,
        secret: &StateSecret,
    ) -> Result<Option<Step>> {
        let Some(sub) = self.sub.as_mut() else {
            self.recover(
                PubSubError::Unavailable("not subscribed".into()),
                rest,
                secret,
            )
            .await?;
            return Ok(None);
        };
        let resp = match sub.next(self.stall).await {
            Ok(r) => r,
            Err(e) => {
                self.recover(e, rest, secret).await?;
                return Ok(None);
            }
        };
        self.failures = 0;
        if resp.events.is_empty() {
            if resp.latest_replay_id.is_empty()
                || self.replay.as_deref() == Some(&resp.latest_replay_id[..])
            {
                return Ok(None);
            }
            self.failures = 0;
            self.replay = Some(resp.latest_replay_id);
            let mut meta = Map::new();
            meta.insert("source".into(), Value::from("stream"));
            meta.insert("keepalive".into(), Value::Bool(true));
            meta.insert("changeTypes".into(), Value::Array(Vec::new()));
            return Ok(Some(Step {
                upserts_json: "[]".into(),
                upserts: 0,
                deletes: Vec::new(),
                checkpoint: self.checkpoint(secret)?,
                meta,
            }));
        }
        let received = {
            let (Some(client), Some(creds)) = (self.client.as_mut(), self.creds.as_ref()) else {
                return Ok(None);
            };
            match stream::decode_all(client, creds, &mut self.schemas, &resp).await {
                Ok(r) => r,
                Err(e @ PubSubError::Decode(_)) => return Err(e.into()),
                Err(e) => {
                    self.recover(e, rest, secret).await?;
                    return Ok(None);
                }
            }
        };
        self.failures = 0;
        if self.kinds.is_none() {
            let d = describes
                .get(rest, &self.key, self.opts.ty.object.as_str())
                .await?;
            self.kinds = Some(
                d.fields
                    .iter()
                    .map(|f| (f.name.to_ascii_lowercase(), f.kind.clone()))
                    .collect(),
            );
            self.rels = d
                .fields
                .iter()
                .filter_map(|f| {
                    let r = f.relationship_name.as_ref()?;
                    Some((r.to_ascii_lowercase(), f.name.clone()))
                })
                .collect();
        }
        let mut batch = Batch::default();
        for r in received {
            let admitted = self.dedup.admit(&r.replay_id, &r.uuid);
            self.replay = Some(r.replay_id.clone());
            if admitted {
                self.add(&mut batch, r);
            }
        }
        if !batch.gap_ids.is_empty() || !batch.diff_ids.is_empty() {
            let mut ids = std::mem::take(&mut batch.gap_ids);
            if !ids.is_empty() {
                self.emit(rest, "gap", None, Some(ids.clone()), None);
            }
            for id in std::mem::take(&mut batch.diff_ids) {
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
            // The whole shape, relationship paths included, as polling reads it.
            let mut select: Vec<String> = self
                .field_list()
                .into_iter()
                .filter(|f| {
                    !f.eq_ignore_ascii_case("Id") && !f.eq_ignore_ascii_case("SystemModstamp")
                })
                .collect();
            select.extend(["Id".to_string(), "SystemModstamp".to_string()]);
            let object = self.opts.ty.object.as_str().to_string();
            reread(rest, &self.key, &object, &select, &mut batch, &ids).await?;
        }
        if batch.is_empty() && !batch.overflow && batch.newest == 0 {
            return Ok(None);
        }
        let step = self.batch_step(batch.overflow, batch, rest, secret)?;
        if step.1 {
            // GAP_OVERFLOW: changes were dropped from the stream; a polling catch-up from the
            // walk's state covers them, then the stream goes on after the overflow event.
            self.emit(rest, "overflow", None, None, None);
            self.mode = Mode::Poll(self.poll_from(self.base_checkpoint(secret)?, secret)?);
        }
        Ok(Some(step.0))
    }

    /// The record shape's top-level field names (`Id` and `SystemModstamp` come separately).
    fn shape_fields(&self) -> Vec<String> {
        self.field_list()
            .into_iter()
            .filter(|f| {
                !f.contains('.')
                    && !f.eq_ignore_ascii_case("Id")
                    && !f.eq_ignore_ascii_case("SystemModstamp")
            })
            .collect()
    }

    /// The relationship names of the type's parent fields (`Account.Name` → `Account`).
    fn relationships(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for f in self.field_list() {
            if let Some((rel, _)) = f.split_once('.') {
                if !out.iter().any(|r| r.eq_ignore_ascii_case(rel)) {
                    out.push(rel.to_string());
                }
            }
        }
        out
    }

    /// The type's field list (`fields: 'all'`: the one the catch-up read).
    fn field_list(&self) -> Vec<String> {
        let list: Vec<String> = match (
            &self.opts.ty.all,
            self.base.as_ref().and_then(|b| b.fields.clone()),
        ) {
            (true, Some(f)) => f,
            _ => self
                .opts
                .ty
                .fields
                .iter()
                .map(|f| f.as_str().to_string())
                .collect(),
        };
        list
    }

    fn format(&self, name: &str, v: Value) -> Value {
        let kind = self
            .kinds
            .as_ref()
            .and_then(|k| k.get(&name.to_ascii_lowercase()));
        match (kind.map(String::as_str), &v) {
            (Some("datetime"), Value::Number(n)) => n
                .as_i64()
                .map_or(v.clone(), |ms| Value::String(iso_millis(ms))),
            (Some("date"), Value::Number(n)) => match n.as_i64() {
                Some(d) if d.abs() < 10_000_000 => Value::String(iso_date(d)),
                Some(ms) => Value::String(iso_date(ms.div_euclid(86_400_000))),
                None => v.clone(),
            },
            _ => v,
        }
    }

    fn add(&self, batch: &mut Batch, r: Received) {
        let ev = r.event;
        if !ev.entity.is_empty() && !ev.entity.eq_ignore_ascii_case(self.opts.ty.object.as_str()) {
            return;
        }
        batch.newest = batch.newest.max(ev.commit_timestamp);
        if !batch.types.contains(&ev.change_type) {
            batch.types.push(ev.change_type.clone());
        }
        let value_of = |name: &str| {
            ev.values
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(n, v)| (n.clone(), v.clone()))
        };
        let stamp = value_of("SystemModstamp")
            .or_else(|| value_of("LastModifiedDate"))
            .map(|(n, v)| self.format(&n, v))
            .filter(|v| !v.is_null())
            .unwrap_or_else(|| Value::String(iso_millis(ev.commit_timestamp)));
        let fields = self.shape_fields();
        match ev.change_type.as_str() {
            "CREATE" | "UNDELETE" => {
                for id in &ev.record_ids {
                    let mut rec = Map::new();
                    for f in &fields {
                        match value_of(f) {
                            Some((n, v)) => rec.insert(n.clone(), self.format(&n, v)),
                            None if f.eq_ignore_ascii_case("Name") => {
                                rec.insert(f.clone(), full_name(&ev.values))
                            }
                            // Change events leave it out; a record just created or restored
                            // is not in the recycle bin.
                            None if f.eq_ignore_ascii_case("IsDeleted") => {
                                rec.insert(f.clone(), Value::Bool(false))
                            }
                            None => rec.insert(f.clone(), Value::Null),
                        };
                    }
                    batch.upsert(id, rec, stamp.clone(), false);
                }
                // Parent fields (`Account.Name`) are not in change events: a null reference
                // gives a null parent, as REST does; a set one means reading the record. So does
                // an event for several records (each has its own values).
                let mut reread = ev.record_ids.len() > 1;
                for rel in self.relationships() {
                    let reference = self.rels.get(&rel.to_ascii_lowercase());
                    match reference.and_then(|r| value_of(r)).map(|(_, v)| v) {
                        None | Some(Value::Null) if reference.is_some() => {
                            for id in &ev.record_ids {
                                batch.set(id, &rel, Value::Null);
                            }
                        }
                        _ => reread = true,
                    }
                }
                if reread {
                    batch.reread(&ev.record_ids);
                }
            }
            "UPDATE" => {
                let mut patch = Map::new();
                for f in &fields {
                    if ev.nulled.iter().any(|n| n.eq_ignore_ascii_case(f)) {
                        let name = ev
                            .nulled
                            .iter()
                            .find(|n| n.eq_ignore_ascii_case(f))
                            .cloned()
                            .unwrap_or_else(|| f.clone());
                        patch.insert(name, Value::Null);
                    } else if ev.changed.iter().any(|n| n.eq_ignore_ascii_case(f)) {
                        match value_of(f) {
                            Some((n, v)) => patch.insert(n.clone(), self.format(&n, v)),
                            None => patch.insert(f.clone(), Value::Null),
                        };
                    }
                }
                for id in &ev.record_ids {
                    batch.upsert(id, patch.clone(), stamp.clone(), true);
                }
                // A field sent as a data diff (long text) has no value to hand out, and a
                // person's full `Name` is not in the event when only its parts changed: the
                // record is read whole instead.
                let has = |list: &[String], f: &str| list.iter().any(|x| x.eq_ignore_ascii_case(f));
                let name_parts = [
                    "FirstName",
                    "MiddleName",
                    "LastName",
                    "Suffix",
                    "Salutation",
                ];
                let stale_name = has(&fields, "Name")
                    && !has(&ev.changed, "Name")
                    && name_parts
                        .iter()
                        .any(|p| has(&ev.changed, p) || has(&ev.nulled, p));
                // A changed reference makes its parent's fields stale.
                let parent_changed = self.relationships().iter().any(|rel| {
                    self.rels
                        .get(&rel.to_ascii_lowercase())
                        .is_some_and(|r| has(&ev.changed, r) || has(&ev.nulled, r))
                });
                if stale_name
                    || parent_changed
                    || ev
                        .diff
                        .iter()
                        .any(|d| fields.iter().any(|f| f.eq_ignore_ascii_case(d)))
                {
                    for id in &ev.record_ids {
                        if !batch.diff_ids.contains(id) {
                            batch.diff_ids.push(id.clone());
                        }
                    }
                }
            }
            "DELETE" => {
                for id in &ev.record_ids {
                    batch.delete(id, iso_millis(ev.commit_timestamp));
                }
            }
            "GAP_CREATE" | "GAP_UPDATE" | "GAP_DELETE" | "GAP_UNDELETE" => {
                for id in &ev.record_ids {
                    if !batch.gap_ids.contains(id) {
                        batch.gap_ids.push(id.clone());
                    }
                }
                batch.gap_at = batch.gap_at.max(ev.commit_timestamp);
            }
            "GAP_OVERFLOW" => batch.overflow = true,
            _ => {}
        }
    }

    /// The step of a batch (and whether it ends in an overflow).
    fn batch_step(
        &self,
        overflow: bool,
        batch: Batch,
        rest: &Rest<'_>,
        secret: &StateSecret,
    ) -> Result<(Step, bool)> {
        let object = self.opts.ty.object.as_str();
        let partial = batch.upserts.iter().any(|u| u.partial);
        let mut records = Vec::with_capacity(batch.upserts.len());
        for u in batch.upserts {
            let mut rec = Map::new();
            if self.opts.ty.attributes {
                rec.insert(
                    "attributes".into(),
                    serde_json::json!({
                        "type": object,
                        "url": format!("/services/data/v{}/sobjects/{object}/{}", rest.cfg.api_version.as_str(), u.id),
                    }),
                );
            }
            // The order polling gives: the fields, then `Id` and `SystemModstamp`.
            for (k, v) in u.fields {
                rec.insert(k, v);
            }
            rec.insert("Id".into(), Value::String(u.id));
            rec.insert("SystemModstamp".into(), u.stamp);
            records.push(Value::Object(rec));
        }
        let n = records.len();
        let mut json =
            serde_json::to_string(&records).map_err(|e| Error::Internal(e.to_string()))?;
        if !self.opts.ty.attributes {
            // Records re-read over REST carry them on their parent records too.
            json = crate::salesforce::attributes::strip(&json);
        }
        let mut meta = Map::new();
        meta.insert("source".into(), Value::from("stream"));
        meta.insert("changeTypes".into(), serde_json::json!(batch.types));
        if batch.newest > 0 {
            meta.insert(
                "lagMs".into(),
                Value::from((now_ms() - batch.newest).max(0)),
            );
        }
        if partial {
            meta.insert("partial".into(), Value::Bool(true));
        }
        Ok((
            Step {
                upserts_json: json,
                upserts: n,
                deletes: batch.deletes,
                checkpoint: self.checkpoint(secret)?,
                meta,
            },
            overflow,
        ))
    }
}

struct Upsert {
    id: String,
    fields: Map<String, Value>,
    stamp: Value,
    /// Only patches so far (no full record).
    partial: bool,
}

/// The records of one response, merged per Id in commit order.
#[derive(Default)]
struct Batch {
    upserts: Vec<Upsert>,
    deletes: Vec<Deleted>,
    types: Vec<String>,
    newest: i64,
    gap_ids: Vec<String>,
    /// Records with a field sent as a diff: re-read like a gap's.
    diff_ids: Vec<String>,
    gap_at: i64,
    overflow: bool,
}

impl Batch {
    fn is_empty(&self) -> bool {
        self.upserts.is_empty() && self.deletes.is_empty()
    }

    fn upsert(&mut self, id: &str, fields: Map<String, Value>, stamp: Value, partial: bool) {
        let was_deleted = self.deletes.iter().any(|d| d.id == id);
        self.deletes.retain(|d| d.id != id);
        match self.upserts.iter_mut().find(|u| u.id == id) {
            Some(u) => {
                u.fields.extend(fields);
                u.stamp = stamp;
                u.partial = u.partial && partial;
            }
            None => self.upserts.push(Upsert {
                id: id.to_string(),
                fields,
                stamp,
                // A patch after a delete in the same step cannot restore the record.
                partial: partial || was_deleted,
            }),
        }
    }

    /// Sets one field of a record already in the batch.
    fn set(&mut self, id: &str, field: &str, v: Value) {
        if let Some(u) = self.upserts.iter_mut().find(|u| u.id == id) {
            u.fields.insert(field.to_string(), v);
        }
    }

    /// Records to read whole over REST once the batch is complete.
    fn reread(&mut self, ids: &[String]) {
        for id in ids {
            if !self.diff_ids.contains(id) {
                self.diff_ids.push(id.clone());
            }
        }
    }

    fn replace(&mut self, id: &str, fields: Map<String, Value>, stamp: Value) {
        self.deletes.retain(|d| d.id != id);
        self.upserts.retain(|u| u.id != id);
        self.upserts.push(Upsert {
            id: id.to_string(),
            fields,
            stamp,
            partial: false,
        });
    }

    fn delete(&mut self, id: &str, at: String) {
        self.upserts.retain(|u| u.id != id);
        if !self.deletes.iter().any(|d| d.id == id) {
            self.deletes.push(Deleted {
                id: id.to_string(),
                deleted_at: at,
            });
        }
    }
}

/// A person's `Name` from the components of the event's compound `Name` field (a whole record
/// has them all): first, middle, last name and suffix, as Salesforce composes it.
fn full_name(values: &[(String, Value)]) -> Value {
    let part = |k: &str| {
        values
            .iter()
            .find(|(n, _)| n == k)
            .and_then(|(_, v)| v.as_str())
            .filter(|s| !s.is_empty())
    };
    let parts: Vec<&str> = ["FirstName", "MiddleName", "LastName", "Suffix"]
        .into_iter()
        .filter_map(part)
        .collect();
    if parts.is_empty() {
        Value::Null
    } else {
        Value::String(parts.join(" "))
    }
}

/// A sync run as the binding drives it: polling only, or live.
pub enum Runner {
    Poll(Box<SyncRun>),
    Live(Box<LiveRun>),
}

impl Runner {
    pub fn key(&self) -> &ConnKey {
        match self {
            Runner::Poll(r) => &r.key,
            Runner::Live(r) => &r.key,
        }
    }

    pub fn abortable_job(&self) -> Option<String> {
        match self {
            Runner::Poll(r) => r.abortable_job(),
            Runner::Live(r) => r.abortable_job(),
        }
    }

    /// Ends a live run's stream (nothing for a polling run).
    pub fn stop(&mut self) {
        if let Runner::Live(r) = self {
            r.stop();
        }
    }

    pub async fn next(
        &mut self,
        rest: &Rest<'_>,
        describes: &DescribeCache,
        secret: &StateSecret,
    ) -> Result<Option<Step>> {
        match self {
            Runner::Poll(r) => r.next(rest, describes, secret).await,
            Runner::Live(r) => r.next(rest, describes, secret).await,
        }
    }
}

/// Gap events: the records as they are now, by Id over REST; an Id not found is a delete.
/// (A free function: the run holds the gRPC stream, which is not `Sync`.)
async fn reread(
    rest: &Rest<'_>,
    key: &ConnKey,
    object: &str,
    select: &[String],
    batch: &mut Batch,
    ids: &[String],
) -> Result<()> {
    for chunk in ids.chunks(GAP_CHUNK) {
        let list: Vec<String> = chunk
            .iter()
            .map(|i| Literal::Str(i.clone()).to_string())
            .collect();
        let soql = format!(
            "SELECT {} FROM {object} WHERE Id IN ({})",
            select.join(", "),
            list.join(", ")
        );
        let body = rest.get(key, &query_path(rest.cfg, &soql), None).await?;
        let page = QueryPage::parse(&body)?;
        let mut found = HashSet::new();
        for row in page.rows()? {
            let Ok(Value::Object(mut rec)) = serde_json::from_str::<Value>(row.get()) else {
                continue;
            };
            rec.remove("attributes");
            let Some(id) = rec.get("Id").and_then(Value::as_str).map(str::to_string) else {
                continue;
            };
            let stamp = rec.remove("SystemModstamp").unwrap_or(Value::Null);
            rec.remove("Id");
            found.insert(id.clone());
            batch.replace(&id, rec, stamp);
        }
        for id in chunk {
            if !found.iter().any(|f: &String| f.get(..15) == id.get(..15)) {
                batch.delete(
                    id,
                    iso_millis(if batch.gap_at > 0 {
                        batch.gap_at
                    } else {
                        now_ms()
                    }),
                );
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedup_by_replay_id_and_uuid() {
        let mut d = Dedup::default();
        assert!(d.admit(b"r1", "u1"));
        assert!(!d.admit(b"r2", "u1"));
        // A repeated replay id with a new EventUuid is a new event.
        assert!(d.admit(b"r1", "u2"));
        assert!(d.admit(b"r3", ""));
        assert!(!d.admit(b"r3", ""));
        for i in 0..(MAX_DEDUP + 5) {
            d.admit(format!("x{i}").as_bytes(), &format!("y{i}"));
        }
        assert!(d.order.len() <= MAX_DEDUP);
        // The oldest were forgotten.
        assert!(d.admit(b"r1", "u1"));
    }

    #[test]
    fn batch_merges_per_id_in_commit_order() {
        let mut b = Batch::default();
        let f = |k: &str, v: &str| {
            let mut m = Map::new();
            m.insert(k.into(), Value::from(v));
            m
        };
        b.upsert("a", f("Title", "x"), Value::from("t1"), false);
        b.upsert("a", f("Email", "e"), Value::from("t2"), true);
        assert_eq!(b.upserts.len(), 1);
        assert!(!b.upserts[0].partial);
        assert_eq!(b.upserts[0].fields.len(), 2);
        b.delete("a", "t3".into());
        assert!(b.upserts.is_empty());
        assert_eq!(b.deletes.len(), 1);
        // UNDELETE after DELETE: the record is back, no delete left.
        b.upsert("a", f("Title", "y"), Value::from("t4"), false);
        assert!(b.deletes.is_empty());
        b.upsert("p", f("Title", "z"), Value::from("t5"), true);
        assert!(b.upserts.iter().any(|u| u.id == "p" && u.partial));
    }
}
