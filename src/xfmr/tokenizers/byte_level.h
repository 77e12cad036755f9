// GPT-2's byte-level pieces: the pre-tokenizer (the regex of OpenAI's encoder.py, hand-written over code points) and
// the byte <-> "display" character table (bytes_to_unicode) that lets vocab.json / merges.txt store raw bytes as
// printable text. Shared by the GPT-2 BPE tokenizer and the BPE trainer.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace xfmr::tok {

// End (byte offset) of the pre-token that starts at `i` (< text.size()) under GPT-2's pattern
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// tried in that order at each position. Invalid UTF-8 bytes count as one-byte "other" characters, so any input
// splits into pre-tokens that concatenate back to it.
size_t gpt2_pretoken_end(std::string_view text, size_t i);

// bytes_to_unicode (OpenAI gpt-2 encoder.py): the printable bytes '!'..'~', '¡'..'¬', '®'..'ÿ' map to themselves;
// the other 68 bytes map to U+0100, U+0101, ... in increasing byte order.
const std::array<char32_t, 256>& byte_to_display();
// The display character of every byte as UTF-8 (the 256 single-byte tokens of a GPT-2 vocab.json).
const std::array<std::string, 256>& byte_display_utf8();
// The 256 bytes in the order of the bytes_to_unicode table (printable ones first): the id order of the single-byte
// tokens in GPT-2's vocabulary and in trained vocabularies.
const std::array<uint8_t, 256>& bytes_in_display_order();
// Display text -> raw bytes. Returns false when a character is not one of the 256 display characters.
bool display_to_bytes(std::string_view display, std::string& out);
// Raw bytes -> display text.
std::string bytes_to_display(std::string_view bytes);

}  // namespace xfmr::tok
