// LSP progress for a request (also used by plain JSON-RPC): $/progress
// notifications for its workDoneToken and partialResultToken. See
// take_lsp_progress in include/dialects/icotes/session.hpp.
#include <algorithm>

#include "icotes/session.hpp"

namespace icotes {

// WorkDoneProgress and partial results over $/progress (LSP 3.17 "Work
// Done Progress", "Partial Result Progress"); either token may be absent.
class LspProgress final : public Progress {
 public:
  LspProgress(std::shared_ptr<Connection> conn, json work_token, json partial_token, std::string title)
      : conn_(std::move(conn)), token_(std::move(work_token)), partial_token_(std::move(partial_token)) {
    if (token_.is_null()) return;
    conn_->notify("$/progress", {{"token", token_},
                                 {"value", {{"kind", "begin"}, {"title", std::move(title)}, {"cancellable", true}}}});
  }
  ~LspProgress() override {
    if (!token_.is_null()) conn_->notify("$/progress", {{"token", token_}, {"value", {{"kind", "end"}}}});
  }
  void report(std::string_view message, double done, double total) override {
    if (token_.is_null()) return;
    json value = {{"kind", "report"}, {"message", std::string(message)}};
    if (total > 0) value["percentage"] = static_cast<unsigned>(std::min(100.0, 100.0 * done / total));
    conn_->notify("$/progress", {{"token", token_}, {"value", std::move(value)}});
  }
  bool wants_partial() const override { return !partial_token_.is_null(); }
  void partial(const json& items) override {
    if (!partial_token_.is_null()) conn_->notify("$/progress", {{"token", partial_token_}, {"value", items}});
  }

 private:
  std::shared_ptr<Connection> conn_;
  json token_;
  json partial_token_;
};

std::shared_ptr<Progress> take_lsp_progress(const std::shared_ptr<Connection>& conn, json& params,
                                            const std::string& title) {
  json work_token;
  json partial_token;
  if (auto it = params.find("workDoneToken"); it != params.end()) {
    work_token = *it;
    params.erase(it);
  }
  if (auto it = params.find("partialResultToken"); it != params.end()) {
    partial_token = *it;
    params.erase(it);
  }
  if (work_token.is_null() && partial_token.is_null()) return nullptr;
  return std::make_shared<LspProgress>(conn, std::move(work_token), std::move(partial_token), title);
}

}  // namespace icotes
