#include "icotes/documents.hpp"

namespace icotes {

void Documents::open(const std::string& rel, OpenDocument doc) {
  {
    std::lock_guard lock(mutex_);
    docs_[rel] = std::move(doc);
  }
  changed_.notify_all();
}

Status Documents::replace(const std::string& rel, std::int64_t version, std::string text) {
  {
    std::lock_guard lock(mutex_);
    auto it = docs_.find(rel);
    if (it == docs_.end()) return make_error(error_code::kNotFound, "didChange for " + rel + ", which is not open");
    it->second.text = std::move(text);
    it->second.version = version;
  }
  changed_.notify_all();
  return ok_status();
}

Status Documents::change(const std::string& rel, std::int64_t version, const Range& range, std::string_view text,
                         PositionEncoding encoding) {
  {
    std::lock_guard lock(mutex_);
    auto it = docs_.find(rel);
    if (it == docs_.end()) return make_error(error_code::kNotFound, "didChange for " + rel + ", which is not open");
    std::string& doc = it->second.text;
    std::size_t begin = offset_of(doc, range.start, encoding);
    std::size_t end = offset_of(doc, range.end, encoding);
    if (end < begin) std::swap(begin, end);
    doc.replace(begin, end - begin, text);
    it->second.version = version;
  }
  changed_.notify_all();
  return ok_status();
}

void Documents::close(const std::string& rel) {
  {
    std::lock_guard lock(mutex_);
    docs_.erase(rel);
  }
  changed_.notify_all();
}

void Documents::add_editor(std::weak_ptr<EditorLink> editor) {
  std::lock_guard lock(mutex_);
  std::erase_if(editors_, [](const std::weak_ptr<EditorLink>& e) { return e.expired(); });
  editors_.push_back(std::move(editor));
}

std::shared_ptr<EditorLink> Documents::editor() const {
  std::lock_guard lock(mutex_);
  for (auto it = editors_.rbegin(); it != editors_.rend(); ++it)
    if (auto e = it->lock()) return e;
  return nullptr;
}

std::vector<std::shared_ptr<EditorLink>> Documents::editors() const {
  std::vector<std::shared_ptr<EditorLink>> out;
  std::lock_guard lock(mutex_);
  for (auto it = editors_.rbegin(); it != editors_.rend(); ++it)
    if (auto e = it->lock()) out.push_back(std::move(e));
  return out;
}

void Documents::close_owned_by(const EditorLink* owner) {
  {
    std::lock_guard lock(mutex_);
    for (auto it = docs_.begin(); it != docs_.end();) {
      auto o = it->second.owner.lock();
      if (!o || o.get() == owner) {
        it = docs_.erase(it);
      } else {
        ++it;
      }
    }
  }
  changed_.notify_all();
}

std::optional<OpenDocument> Documents::get(const std::string& rel) const {
  std::lock_guard lock(mutex_);
  auto it = docs_.find(rel);
  if (it == docs_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> Documents::open_paths() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> out;
  for (const auto& [rel, doc] : docs_) out.push_back(rel);
  return out;
}

bool Documents::wait_for_change(const std::string& rel, std::int64_t version, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] {
    auto it = docs_.find(rel);
    return it == docs_.end() || it->second.version != version;
  });
}

}  // namespace icotes
