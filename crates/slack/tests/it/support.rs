//! What the tests share: the fake Slack, the adapter's API pointed at it, and a
//! practice layer with one Slack channel set up.

use std::sync::Arc;

use chrono::{DateTime, NaiveTime, Utc};
use prepbot_core::chat::{ChannelAddress, Platform};
use prepbot_core::engine::schedule::{Days, parse_zone};
use prepbot_core::practice::{ChannelSetup, Practice};
use prepbot_core::store::drops::DropRecord;
use prepbot_fake_slack::{BOT_TOKEN, CHANNEL, FakeSlack, TEAM};
use prepbot_slack::api::{ApiBase, Identity, Secret, SlackApi};
use prepbot_slack::outbound::{SlackOutbound, SlackState};

pub struct Harness {
    pub fake: FakeSlack,
    pub api: SlackApi,
    pub state: Arc<SlackState>,
    pub outbound: SlackOutbound,
    pub practice: Practice,
    pub channel_key: i64,
    _dir: tempfile::TempDir,
}

pub fn address(channel: &str) -> ChannelAddress {
    ChannelAddress::new(Platform::Slack, TEAM, channel)
}

impl Harness {
    pub async fn start() -> Harness {
        let fake = FakeSlack::start().await;
        let api = SlackApi::new(
            &Secret::new(BOT_TOKEN),
            ApiBase::parse(&fake.api_base()).expect("the fake's base"),
        );
        let state = Arc::new(SlackState::default());
        let me = api.auth_test().await.expect("auth.test");
        let _ = state.me.set(me);
        // Connected and caught up, as the runner marks it: the scheduler may post.
        state
            .ready
            .store(true, std::sync::atomic::Ordering::Release);
        let outbound = SlackOutbound::new(api.clone(), state.clone());
        let (practice, dir) = prepbot_testkit::practice_with(prepbot_testkit::small_bank(5)).await;
        let (channel, _) = practice
            .setup_channel(
                ChannelSetup {
                    address: address(CHANNEL),
                    name: Some("study".into()),
                    time: NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
                    zone: parse_zone("Europe/Berlin").unwrap(),
                    days: Days::DAILY,
                    reveal_after_hours: 8,
                    pool: Default::default(),
                },
                1,
                Utc::now(),
            )
            .await
            .expect("setup");
        Harness {
            fake,
            api,
            state,
            outbound,
            practice,
            channel_key: channel.key,
            _dir: dir,
        }
    }

    pub fn identity(&self) -> Identity {
        self.state.me.get().cloned().expect("identity")
    }

    /// Posts today's drop now through the real scheduler code.
    pub async fn drop_now(&self) -> Result<DropRecord, prepbot_core::practice::PracticeError> {
        prepbot_core::scheduler::drop_now(&self.practice, &self.outbound, self.channel_key, now())
            .await
    }
}

pub fn now() -> DateTime<Utc> {
    Utc::now()
}
