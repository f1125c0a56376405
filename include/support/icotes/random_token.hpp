// Unguessable names and secrets from the kernel's random number generator.
#pragma once

#include <cstddef>
#include <string>

namespace icotes {

/// `bytes` bytes from getrandom(2) (the kernel's CSPRNG; it waits only until
/// the pool is first seeded at boot) as 2 x bytes lowercase hex digits.
/// Retries after EINTR and short reads. Throws std::system_error when
/// getrandom fails otherwise (ENOSYS under a seccomp filter, say): a secret
/// is never made from anything weaker, and the caller never spins.
std::string random_hex(std::size_t bytes);

}  // namespace icotes
