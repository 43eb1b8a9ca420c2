#include "services/sla/channel_watch.h"

#include <algorithm>
#include <cmath>

#include "fmt/format.h"
#include "services/common/base/proto_time.h"
#include "services/common/names/event_kinds.h"
#include "services/common/names/names.h"
#include "services/sla/sla_core.h"

namespace earshot::sla {
namespace {

earshot::v1::Alert ChannelAlert(earshot::v1::AlertLevel level, const std::string& key,
                                earshot::v1::Platform platform, const std::string& account,
                                absl::Time started, absl::Time now, bool resolved) {
  earshot::v1::Alert a;
  a.set_alert_id(
      fmt::format("{}|{}|{}", key, absl::ToUnixMicros(started), static_cast<int>(level)));
  a.set_name(AlertName(level));
  a.set_level(level);
  a.set_state(resolved ? earshot::v1::ALERT_STATE_RESOLVED : earshot::v1::ALERT_STATE_FIRING);
  a.set_thread_key(key);
  a.set_platform(platform);
  a.set_account_id(account);
  SetProtoTime(started, a.mutable_fired_at());
  if (resolved) SetProtoTime(now, a.mutable_resolved_at());
  return a;
}

}  // namespace

void ChannelWatch::RollWindow(Surge& s, absl::Time now) {
  // Close every full window since the last one; empty windows count as zero.
  const double alpha =
      std::min(1.0, absl::FDivDuration(options_.surge_window, options_.surge_baseline));
  while (now - s.window_start >= options_.surge_window) {
    s.baseline = s.windows == 0 ? s.count : (1 - alpha) * s.baseline + alpha * s.count;
    ++s.windows;
    s.count = 0;
    s.window_start += options_.surge_window;
    if (s.windows > 10000) {  // long idle: jump instead of stepping
      s.window_start = now;
      break;
    }
  }
}

void ChannelWatch::Observe(const earshot::v1::RoutedEvent& routed, absl::Time now) {
  const auto& e = routed.event();
  if (e.kind() == earshot::v1::KIND_CONTROL) return;
  const std::string key = fmt::format("{}:{}", names::Platform(e.platform()), e.account_id());
  Silence& si = silence_[key];
  if (si.events > 0) {
    const double gap = absl::ToDoubleSeconds(now - si.last_seen);
    si.mean_gap_s = si.events == 1 ? gap : 0.9 * si.mean_gap_s + 0.1 * gap;
  }
  si.last_seen = now;
  si.events++;
  si.account = e.account_id();
  si.platform = e.platform();
  if (si.firing) {
    si.firing = false;
    pending_.push_back(ChannelAlert(earshot::v1::ALERT_LEVEL_SILENCE, key, si.platform, si.account,
                                    si.fired_at, now, /*resolved=*/true));
  }
  if (e.direction() != earshot::v1::DIRECTION_INBOUND || !events::IsMessage(e)) return;
  Surge& su = surges_[key];
  if (su.windows == 0 && su.count == 0 && su.window_start == absl::Time()) su.window_start = now;
  RollWindow(su, now);
  su.count++;
  su.account = e.account_id();
  su.platform = e.platform();
}

std::vector<earshot::v1::Alert> ChannelWatch::Check(absl::Time now) {
  std::vector<earshot::v1::Alert> out = std::move(pending_);
  pending_.clear();
  for (auto& [key, s] : surges_) {
    RollWindow(s, now);
    const double threshold =
        std::max<double>(options_.surge_min_count, options_.surge_factor * s.baseline);
    const bool surging = s.windows > 0 && s.count >= threshold;
    if (surging && !s.firing) {
      s.firing = true;
      s.fired_start = s.window_start;
      auto a = ChannelAlert(earshot::v1::ALERT_LEVEL_SURGE, key, s.platform, s.account,
                            s.fired_start, now, false);
      (*a.mutable_details())["mentions_in_window"] = std::to_string(s.count);
      (*a.mutable_details())["usual_per_window"] = fmt::format("{:.1f}", s.baseline);
      a.set_summary(fmt::format("{} customer messages to account {} in {}, usually {:.1f}", s.count,
                                s.account, absl::FormatDuration(options_.surge_window),
                                s.baseline));
      out.push_back(std::move(a));
    } else if (!surging && s.firing && s.count < threshold / 2) {
      s.firing = false;
      out.push_back(ChannelAlert(earshot::v1::ALERT_LEVEL_SURGE, key, s.platform, s.account,
                                 s.fired_start, now, true));
    }
  }
  for (auto& [key, s] : silence_) {
    if (s.firing || s.events < options_.silence_min_events) continue;
    const absl::Duration limit =
        std::max(options_.silence_min, absl::Seconds(options_.silence_factor * s.mean_gap_s));
    if (now - s.last_seen > limit) {
      s.firing = true;
      s.fired_at = now;
      auto a = ChannelAlert(earshot::v1::ALERT_LEVEL_SILENCE, key, s.platform, s.account, now, now,
                            false);
      (*a.mutable_details())["silent_for"] = absl::FormatDuration(now - s.last_seen);
      (*a.mutable_details())["usual_gap"] = absl::FormatDuration(absl::Seconds(s.mean_gap_s));
      a.set_summary(fmt::format(
          "No events from account {} for {} (usually one every {})", s.account,
          absl::FormatDuration(absl::Trunc(now - s.last_seen, absl::Seconds(1))),
          absl::FormatDuration(absl::Trunc(absl::Seconds(s.mean_gap_s), absl::Seconds(1)))));
      out.push_back(std::move(a));
    }
  }
  return out;
}

void ChannelWatch::Save(earshot::v1::ChannelWatchState* state) const {
  state->clear_surges();
  state->clear_silences();
  for (const auto& [key, s] : surges_) {
    auto* out = state->add_surges();
    out->set_key(key);
    out->set_platform(s.platform);
    out->set_account_id(s.account);
    out->set_window_start_us(absl::ToUnixMicros(s.window_start));
    out->set_count(s.count);
    out->set_baseline(s.baseline);
    out->set_windows(s.windows);
    out->set_firing(s.firing);
    out->set_fired_start_us(absl::ToUnixMicros(s.fired_start));
  }
  for (const auto& [key, s] : silence_) {
    auto* out = state->add_silences();
    out->set_key(key);
    out->set_platform(s.platform);
    out->set_account_id(s.account);
    out->set_last_seen_us(absl::ToUnixMicros(s.last_seen));
    out->set_mean_gap_s(s.mean_gap_s);
    out->set_events(s.events);
    out->set_firing(s.firing);
    out->set_fired_at_us(absl::ToUnixMicros(s.fired_at));
  }
}

void ChannelWatch::Load(const earshot::v1::ChannelWatchState& state) {
  surges_.clear();
  silence_.clear();
  pending_.clear();
  for (const auto& in : state.surges()) {
    Surge& s = surges_[in.key()];
    s.platform = in.platform();
    s.account = in.account_id();
    s.window_start = absl::FromUnixMicros(in.window_start_us());
    s.count = static_cast<int>(in.count());
    s.baseline = in.baseline();
    s.windows = static_cast<int>(in.windows());
    s.firing = in.firing();
    s.fired_start = absl::FromUnixMicros(in.fired_start_us());
  }
  for (const auto& in : state.silences()) {
    Silence& s = silence_[in.key()];
    s.platform = in.platform();
    s.account = in.account_id();
    s.last_seen = absl::FromUnixMicros(in.last_seen_us());
    s.mean_gap_s = in.mean_gap_s();
    s.events = static_cast<int>(in.events());
    s.firing = in.firing();
    s.fired_at = absl::FromUnixMicros(in.fired_at_us());
  }
}

}  // namespace earshot::sla
