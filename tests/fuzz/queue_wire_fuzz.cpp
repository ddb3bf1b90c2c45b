// Fuzz target: the queue API's body decoders (peers/queue_wire.hpp), which read every request a
// queue server gets and every reply RemoteTaskQueue gets. The first input byte picks the decoder.
//
// Properties, beyond "no sanitizer report":
//  - a refusal is codec.malformed or error.validation with a message, never anything else;
//  - what decodes, encodes and decodes again to the same values (enqueue requests, leases, lease
//    requests, pending items, token lists): the encoder and the decoder agree on every input the
//    decoder accepts.
#include <hugo/error_codes.hpp>

#include "peers/queue_wire.hpp"
#include "fuzz_check.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace {

using namespace hugo;
using namespace hugo::peers;

template <class T>
void check_refusal(const Result<T>& result) {
  if (result.ok()) return;
  const std::string& code = result.error().code();
  FUZZ_CHECK(code == errc::codec_malformed || code == errc::validation, "unexpected code %s", code.c_str());
  FUZZ_CHECK(!result.error().message().empty(), "a refusal without a message");
}

bool same_lease(const Lease& a, const Lease& b) {
  return a.token == b.token && a.queue == b.queue && a.owner == b.owner && a.payload == b.payload &&
         a.payload_format == b.payload_format && a.attempt == b.attempt && a.enqueued_at == b.enqueued_at &&
         a.granted_at == b.granted_at && a.expires_at == b.expires_at && a.last_error == b.last_error;
}

bool same_item(const PendingItem& a, const PendingItem& b) {
  return a.task_id == b.task_id && a.payload == b.payload && a.payload_format == b.payload_format &&
         a.attempt == b.attempt && a.enqueued_at == b.enqueued_at && a.last_error == b.last_error &&
         a.last_token == b.last_token && a.available_at == b.available_at && a.priority == b.priority;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string again;
  switch (data[0] % 6) {
    case 0: {
      auto r = decode_enqueue_request(body);
      check_refusal(r);
      if (!r.ok()) break;
      encode_enqueue_request(*r, again);
      auto back = decode_enqueue_request(again);
      FUZZ_CHECK(back.ok(), "a re-encoded enqueue request does not decode: %s", back.error().message().c_str());
      FUZZ_CHECK(back->payloads == r->payloads && back->batch == (r->batch || r->payloads.size() != 1) &&
                     back->options.priority == r->options.priority && back->options.format == r->options.format &&
                     back->options.not_before == r->options.not_before && back->wait == r->wait,
                 "an enqueue request changed through encode and decode");
      break;
    }
    case 1: {
      auto r = decode_leases(body);
      check_refusal(r);
      if (!r.ok()) break;
      encode_leases(*r, again);
      auto back = decode_leases(again);
      FUZZ_CHECK(back.ok() && back->size() == r->size(), "re-encoded leases do not decode");
      for (std::size_t i = 0; i < r->size(); ++i) FUZZ_CHECK(same_lease((*r)[i], (*back)[i]), "lease %zu changed", i);
      break;
    }
    case 2: {
      auto r = decode_lease_request(body);
      check_refusal(r);
      if (!r.ok()) break;
      encode_lease_request(*r, again);
      auto back = decode_lease_request(again);
      FUZZ_CHECK(back.ok() && back->owner == r->owner && back->max == r->max && back->wait == r->wait,
                 "a lease request changed through encode and decode");
      break;
    }
    case 3: {
      auto r = decode_pending_items(body);
      check_refusal(r);
      if (!r.ok()) break;
      encode_pending_items(*r, again);
      auto back = decode_pending_items(again);
      FUZZ_CHECK(back.ok() && back->size() == r->size(), "re-encoded items do not decode");
      for (std::size_t i = 0; i < r->size(); ++i) FUZZ_CHECK(same_item((*r)[i], (*back)[i]), "item %zu changed", i);
      break;
    }
    case 4: {
      auto r = decode_token_list(body);
      check_refusal(r);
      if (!r.ok()) break;
      encode_token_list(*r, again);
      auto back = decode_token_list(again);
      FUZZ_CHECK(back.ok() && *back == *r, "a token list changed through encode and decode");
      break;
    }
    default: {
      check_refusal(decode_fail_batch(body));
      check_refusal(decode_fail_request(body));
      check_refusal(decode_cancel_request(body));
      check_refusal(decode_heartbeat(body));
      check_refusal(decode_keyed_enqueue(body));
      check_refusal(decode_task_ids(body));
      (void)decode_error_body(body);
      break;
    }
  }
  return 0;
}
