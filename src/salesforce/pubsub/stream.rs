//! One Subscribe stream with Salesforce's pull flow control: a `FetchRequest` for at most
//! `BATCH` events, and the next one only once `pending_num_requested` reaches zero, so the
//! connection holds at most one fetch's events the consumer has not taken. Every read is
//! bounded by the stall window; dropping the value cancels the gRPC stream.

use std::time::Duration;

use tokio::sync::mpsc;
use tonic::codec::Streaming;
use tonic::transport::Channel;

use super::avro::{self, ChangeEvent, EventSchema, SchemaCache};
use super::channel::{Credentials, CALL_TIMEOUT};
use super::proto::pub_sub_client::PubSubClient;
use super::proto::{FetchRequest, FetchResponse, ReplayPreset, SchemaRequest};
use super::PubSubError;

/// Events asked for per FetchRequest (Salesforce's maximum).
pub const BATCH: i32 = 100;

/// Where a subscription starts.
#[derive(Debug, Clone)]
pub enum Start {
    Latest,
    /// After this replay id.
    After(Vec<u8>),
}

pub struct Subscription {
    topic: String,
    requests: mpsc::Sender<FetchRequest>,
    responses: Streaming<FetchResponse>,
    /// A FetchRequest is on its way that no response has acknowledged yet.
    asked: bool,
}

/// One event of a response, decoded.
pub struct Received {
    pub replay_id: Vec<u8>,
    /// The EventUuid.
    pub uuid: String,
    pub event: ChangeEvent,
}

impl Subscription {
    /// Opens the stream and asks for the first batch.
    pub async fn open(
        client: &mut PubSubClient<Channel>,
        creds: &Credentials,
        topic: &str,
        start: &Start,
    ) -> Result<Self, PubSubError> {
        // Capacity 2: the first request, then at most one more in flight.
        let (tx, rx) = mpsc::channel::<FetchRequest>(2);
        let (preset, replay_id) = match start {
            Start::Latest => (ReplayPreset::Latest, Vec::new()),
            Start::After(id) => (ReplayPreset::Custom, id.clone()),
        };
        let first = FetchRequest {
            topic_name: topic.to_string(),
            replay_preset: preset as i32,
            replay_id,
            num_requested: BATCH,
            auth_refresh: String::new(),
        };
        tx.try_send(first)
            .map_err(|_| PubSubError::Unavailable("request queue closed".into()))?;
        let outbound =
            futures_util::stream::unfold(
                rx,
                |mut rx| async move { rx.recv().await.map(|m| (m, rx)) },
            );
        let req = creds.request(outbound)?;
        let resp = tokio::time::timeout(CALL_TIMEOUT, client.subscribe(req))
            .await
            .map_err(|_| PubSubError::Unavailable("Subscribe timed out".into()))?
            .map_err(|s| PubSubError::from_status(&s))?;
        Ok(Self {
            topic: topic.to_string(),
            requests: tx,
            responses: resp.into_inner(),
            asked: false,
        })
    }

    /// The next response, or a failure; `Stall` when nothing arrives within `stall`.
    pub async fn next(&mut self, stall: Duration) -> Result<FetchResponse, PubSubError> {
        let got = tokio::time::timeout(stall, self.responses.message())
            .await
            .map_err(|_| PubSubError::Stall)?;
        let resp = match got {
            Ok(Some(r)) => r,
            Ok(None) => return Err(PubSubError::Unavailable("the stream ended (reset)".into())),
            Err(s) => return Err(PubSubError::from_status(&s)),
        };
        if !resp.events.is_empty() || resp.pending_num_requested > 0 {
            self.asked = false;
        }
        if resp.pending_num_requested <= 0 && !self.asked {
            let more = FetchRequest {
                topic_name: self.topic.clone(),
                num_requested: BATCH,
                ..Default::default()
            };
            // Never blocks: at most one request is outstanding once pending reached zero.
            match self.requests.try_send(more) {
                Ok(()) => self.asked = true,
                Err(mpsc::error::TrySendError::Full(_)) => self.asked = true,
                Err(mpsc::error::TrySendError::Closed(_)) => {
                    return Err(PubSubError::Unavailable("the stream ended (reset)".into()))
                }
            }
        }
        Ok(resp)
    }
}

/// The schema of an id: from the cache, else `GetSchema`.
pub async fn schema(
    client: &mut PubSubClient<Channel>,
    creds: &Credentials,
    cache: &mut SchemaCache,
    id: &str,
) -> Result<std::sync::Arc<EventSchema>, PubSubError> {
    if let Some(s) = cache.get(id) {
        return Ok(s);
    }
    let req = creds.request(SchemaRequest {
        schema_id: id.to_string(),
    })?;
    let info = tokio::time::timeout(CALL_TIMEOUT, client.get_schema(req))
        .await
        .map_err(|_| PubSubError::Unavailable("GetSchema timed out".into()))?
        .map_err(|s| PubSubError::from_status(&s))?
        .into_inner();
    let parsed = EventSchema::parse(&info.schema_json)?;
    Ok(cache.insert(id.to_string(), parsed))
}

/// Decodes a response's events (schemas fetched as needed).
pub async fn decode_all(
    client: &mut PubSubClient<Channel>,
    creds: &Credentials,
    cache: &mut SchemaCache,
    resp: &FetchResponse,
) -> Result<Vec<Received>, PubSubError> {
    let mut out = Vec::with_capacity(resp.events.len());
    for ce in &resp.events {
        let Some(ev) = &ce.event else { continue };
        let s = schema(client, creds, cache, &ev.schema_id).await?;
        out.push(Received {
            replay_id: ce.replay_id.clone(),
            uuid: ev.id.clone(),
            event: avro::decode(&s, &ev.payload)?,
        });
    }
    Ok(out)
}
