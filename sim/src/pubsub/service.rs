//! The `eventbus.v1.PubSub` gRPC service: `GetTopic`, `GetSchema` and `Subscribe` on the
//! Change Data Capture channels `/data/<Type>ChangeEvent`; `Publish` refused (a CDC channel
//! takes no publishers); the other RPCs unimplemented. Every call authenticates with the
//! `accesstoken`, `instanceurl` and `tenantid` metadata, as on Salesforce.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_stream::wrappers::ReceiverStream;
use tonic::metadata::MetadataMap;
use tonic::{Request, Response, Status, Streaming};

use super::avro;
use super::bus::{replay_bytes, Start};
use super::proto::pub_sub_server::PubSub;
use super::proto::*;
use crate::data::Obj;
use crate::state::{lock, Sim};
use crate::time;

/// Most events one FetchRequest may ask for (Salesforce caps `num_requested` at 100).
pub const MAX_REQUESTED: i32 = 100;
/// How long a new stream may take to send its first FetchRequest.
const FIRST_REQUEST_MS: u64 = 30_000;

pub struct Service {
    pub sim: Arc<Sim>,
}

fn rpc_id() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// A Pub/Sub error: the status plus Salesforce's `error-code` and `rpc-id` trailers.
fn error(code: tonic::Code, error_code: &str, msg: &str) -> Status {
    let id = rpc_id();
    let mut meta = MetadataMap::new();
    if let Ok(v) = error_code.parse() {
        meta.insert("error-code", v);
    }
    if let Ok(v) = id.parse() {
        meta.insert("rpc-id", v);
    }
    Status::with_metadata(code, format!("{msg} rpcId: {id}"), meta)
}

fn auth_error() -> Status {
    error(
        tonic::Code::Unauthenticated,
        "sfdc.platform.eventbus.grpc.service.auth.error",
        "An error occurred while trying to authenticate. Verify your credentials and try again.",
    )
}

/// The access token of a call whose metadata names a live session of this org.
fn authenticate(sim: &Sim, meta: &MetadataMap) -> Result<String, Status> {
    let get = |k: &str| meta.get(k).and_then(|v| v.to_str().ok()).map(str::trim);
    let (Some(token), Some(instance), Some(tenant)) =
        (get("accesstoken"), get("instanceurl"), get("tenantid"))
    else {
        return Err(auth_error());
    };
    let mut auth = lock(&sim.auth);
    auth.session_user(token).ok_or_else(auth_error)?;
    let org = crate::tokens::org_id(auth.session_org(token));
    // Compared without the scheme: Pub/Sub clients insist on `https://` instance URLs, while
    // the sim's instance host is plaintext on loopback.
    let host = |u: &str| {
        let u = u.trim_end_matches('/');
        u.split_once("://").map_or(u, |(_, h)| h).to_string()
    };
    if host(instance) != host(&sim.instance_url) || tenant != org {
        return Err(auth_error());
    }
    Ok(token.to_string())
}

fn token_live(sim: &Sim, token: &str) -> bool {
    lock(&sim.auth).session_user(token).is_some()
}

/// `/data/ContactChangeEvent` → Contact.
pub fn topic_obj(topic: &str) -> Option<Obj> {
    let name = topic.strip_prefix("/data/")?.strip_suffix("ChangeEvent")?;
    match Obj::from_name(name)? {
        Obj::User => None,
        o => Some(o),
    }
}

fn topic_error(topic: &str) -> Status {
    error(
        tonic::Code::NotFound,
        "sfdc.platform.eventbus.grpc.subscription.topic.not.found",
        &format!("Topic not found: {topic}"),
    )
}

fn corrupted() -> Status {
    error(
        tonic::Code::InvalidArgument,
        "sfdc.platform.eventbus.grpc.subscription.fetch.replayid.corrupted",
        "The Replay ID validation failed. Ensure that the Replay ID is valid and within the retention window.",
    )
}

fn bad_request(msg: &str) -> Status {
    error(
        tonic::Code::InvalidArgument,
        "sfdc.platform.eventbus.grpc.fetch.request.invalid",
        msg,
    )
}

#[tonic::async_trait]
impl PubSub for Service {
    type SubscribeStream = ReceiverStream<Result<FetchResponse, Status>>;
    type PublishStreamStream = ReceiverStream<Result<PublishResponse, Status>>;
    type ManagedSubscribeStream = ReceiverStream<Result<ManagedFetchResponse, Status>>;

    async fn get_topic(&self, req: Request<TopicRequest>) -> Result<Response<TopicInfo>, Status> {
        let token = authenticate(&self.sim, req.metadata())?;
        let name = req.into_inner().topic_name;
        let obj = topic_obj(&name).ok_or_else(|| topic_error(&name))?;
        let org = crate::tokens::org_id(lock(&self.sim.auth).session_org(&token));
        Ok(Response::new(TopicInfo {
            topic_name: name,
            tenant_guid: org.to_string(),
            can_publish: false,
            can_subscribe: true,
            schema_id: avro::schema_id(&avro::schema_json(obj)),
            rpc_id: rpc_id(),
        }))
    }

    async fn get_schema(
        &self,
        req: Request<SchemaRequest>,
    ) -> Result<Response<SchemaInfo>, Status> {
        authenticate(&self.sim, req.metadata())?;
        let id = req.into_inner().schema_id;
        let found = Obj::ALL
            .into_iter()
            .filter(|o| *o != Obj::User)
            .map(avro::schema_json)
            .find(|s| avro::schema_id(s) == id);
        match found {
            Some(schema_json) => Ok(Response::new(SchemaInfo {
                schema_json,
                schema_id: id,
                rpc_id: rpc_id(),
            })),
            None => Err(error(
                tonic::Code::NotFound,
                "sfdc.platform.eventbus.grpc.schema.not.found",
                &format!("Schema not found: {id}"),
            )),
        }
    }

    async fn publish(
        &self,
        req: Request<PublishRequest>,
    ) -> Result<Response<PublishResponse>, Status> {
        authenticate(&self.sim, req.metadata())?;
        let topic = req.into_inner().topic_name;
        if topic_obj(&topic).is_none() {
            return Err(topic_error(&topic));
        }
        Err(error(
            tonic::Code::PermissionDenied,
            "sfdc.platform.eventbus.grpc.publish.not.allowed",
            &format!("Publishing to a change event channel isn't allowed: {topic}"),
        ))
    }

    async fn publish_stream(
        &self,
        _req: Request<Streaming<PublishRequest>>,
    ) -> Result<Response<Self::PublishStreamStream>, Status> {
        Err(Status::unimplemented(
            "PublishStream isn't served by the simulator",
        ))
    }

    async fn managed_subscribe(
        &self,
        _req: Request<Streaming<ManagedFetchRequest>>,
    ) -> Result<Response<Self::ManagedSubscribeStream>, Status> {
        Err(Status::unimplemented(
            "ManagedSubscribe isn't served by the simulator",
        ))
    }

    async fn subscribe(
        &self,
        req: Request<Streaming<FetchRequest>>,
    ) -> Result<Response<Self::SubscribeStream>, Status> {
        let token = authenticate(&self.sim, req.metadata())?;
        let mut input = req.into_inner();
        let first =
            match tokio::time::timeout(Duration::from_millis(FIRST_REQUEST_MS), input.message())
                .await
            {
                Ok(Ok(Some(f))) => f,
                Ok(Err(s)) => return Err(s),
                _ => {
                    return Err(bad_request(
                        "The stream ended before its first FetchRequest.",
                    ))
                }
            };
        let obj = topic_obj(&first.topic_name).ok_or_else(|| topic_error(&first.topic_name))?;
        let start = match ReplayPreset::try_from(first.replay_preset) {
            Ok(ReplayPreset::Latest) => Start::Latest,
            Ok(ReplayPreset::Earliest) => Start::Earliest,
            Ok(ReplayPreset::Custom) => Start::After(first.replay_id.clone()),
            Err(_) => return Err(bad_request("Unknown replay preset.")),
        };
        let credit = requested(first.num_requested)?;
        let pos = self.sim.bus.start_after(&start).ok_or_else(corrupted)?;
        let (tx, rx) = mpsc::channel(1);
        let stream = Stream {
            sim: self.sim.clone(),
            token,
            obj,
            pos,
            credit,
            tx,
        };
        tokio::spawn(stream.run(input));
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}

fn requested(n: i32) -> Result<i64, Status> {
    if n <= 0 {
        return Err(bad_request("num_requested must be greater than 0."));
    }
    Ok(i64::from(n.min(MAX_REQUESTED)))
}

/// One open Subscribe stream.
struct Stream {
    sim: Arc<Sim>,
    token: String,
    obj: Obj,
    /// Replay id of the last event delivered or passed over.
    pos: u64,
    /// Events the client asked for and has not received yet.
    credit: i64,
    tx: mpsc::Sender<Result<FetchResponse, Status>>,
}

impl Stream {
    async fn send(&self, r: Result<FetchResponse, Status>) -> bool {
        self.tx.send(r).await.is_ok()
    }

    fn response(&self, events: Vec<ConsumerEvent>) -> FetchResponse {
        FetchResponse {
            events,
            latest_replay_id: replay_bytes(self.pos),
            rpc_id: rpc_id(),
            pending_num_requested: self.credit as i32,
        }
    }

    async fn run(mut self, input: Streaming<FetchRequest>) {
        // None once the client half-closed its side.
        let mut input = Some(input);
        let bus = &self.sim.bus;
        let mut tick = bus.tick.subscribe();
        let mut resets = bus.resets.subscribe();
        resets.borrow_and_update();
        let mut last_sent = Instant::now();
        loop {
            let stall = bus.stall_until.load(Relaxed) - time::now_ms();
            if stall > 0 {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(stall.min(1000) as u64)) => {}
                    _ = resets.changed() => return self.reset().await,
                    _ = self.tx.closed() => return,
                }
                last_sent = Instant::now();
                continue;
            }
            if !token_live(&self.sim, &self.token) {
                let _ = self.send(Err(auth_error())).await;
                return;
            }
            if self.credit > 0 {
                match bus.read(self.obj, self.pos, self.credit as usize) {
                    None => {
                        let _ = self.send(Err(corrupted())).await;
                        return;
                    }
                    Some((events, reached)) => {
                        self.pos = reached;
                        if !events.is_empty() {
                            self.credit -= events.len() as i64;
                            let resp = self.response(events);
                            if !self.send(Ok(resp)).await {
                                return;
                            }
                            last_sent = Instant::now();
                            continue;
                        }
                    }
                }
            }
            let keepalive = Duration::from_millis(bus.keepalive_ms.load(Relaxed).max(10));
            let next = input.as_mut();
            tokio::select! {
                m = async move {
                    match next {
                        Some(i) => i.message().await,
                        None => std::future::pending().await,
                    }
                } => match m {
                    Ok(Some(f)) => match requested(f.num_requested) {
                        Ok(n) => self.credit = (self.credit + n).min(i64::from(MAX_REQUESTED) * 10),
                        Err(s) => {
                            let _ = self.send(Err(s)).await;
                            return;
                        }
                    },
                    Ok(None) => input = None,
                    Err(_) => return,
                },
                _ = tick.changed() => {}
                _ = tokio::time::sleep_until(last_sent + keepalive) => {
                    let resp = self.response(Vec::new());
                    if !self.send(Ok(resp)).await {
                        return;
                    }
                    last_sent = Instant::now();
                }
                _ = resets.changed() => return self.reset().await,
                _ = self.tx.closed() => return,
            }
        }
    }

    async fn reset(&self) {
        let _ = self
            .send(Err(error(
                tonic::Code::Unavailable,
                "sfdc.platform.eventbus.grpc.service.unavailable",
                "The service is temporarily unavailable; the stream was reset.",
            )))
            .await;
    }
}
