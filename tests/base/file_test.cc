#include "edgeloop/base/file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "edgeloop/base/hash.h"

namespace edgeloop {
namespace {

std::filesystem::path temp_dir() {
  auto dir = std::filesystem::temp_directory_path() / ("edgeloop_file_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return dir;
}

TEST(File, DurableWriteReplacesContentAndLeavesNoTemporaryFiles) {
  auto dir = temp_dir();
  auto path = dir / "state.bin";
  ASSERT_TRUE(write_file_durable(path, as_bytes("first")).has_value());
  ASSERT_TRUE(write_file_durable(path, as_bytes("second version")).has_value());
  auto data = read_file(path);
  ASSERT_TRUE(data.has_value());
  EXPECT_EQ(as_chars(*data), "second version");
  int files = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator(dir)) ++files;
  EXPECT_EQ(files, 1);
  std::filesystem::remove_all(dir);
}

mode_t mode_of(const std::filesystem::path& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

TEST(File, DurableWriteGivesTheRequestedModeWhateverTheUmask) {
  auto dir = temp_dir();
  const mode_t old_umask = ::umask(0077);
  ASSERT_TRUE(write_file_durable(dir / "public.bin", as_bytes("p")).has_value());
  ::umask(0);
  ASSERT_TRUE(write_file_durable(dir / "secret.key", as_bytes("s"), 0600).has_value());
  ::umask(old_umask);
  EXPECT_EQ(mode_of(dir / "public.bin"), 0644u);  // the default, as before the parameter existed
  EXPECT_EQ(mode_of(dir / "secret.key"), 0600u);
  // Replacing a file gives the new file the requested mode, not the old file's.
  ASSERT_TRUE(write_file_durable(dir / "public.bin", as_bytes("now secret"), 0600).has_value());
  EXPECT_EQ(mode_of(dir / "public.bin"), 0600u);
  std::filesystem::remove_all(dir);
}

TEST(File, DurableWriteThatMustNotReplaceLeavesAnExistingFileAlone) {
  auto dir = temp_dir();
  auto path = dir / "once.bin";
  ASSERT_TRUE(write_file_durable(path, as_bytes("first"), 0600, IfExists::kFail).has_value());
  auto again = write_file_durable(path, as_bytes("second"), 0600, IfExists::kFail);
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(again.error().message.find("already exists"), std::string::npos) << again.error().message;
  EXPECT_EQ(as_chars(read_file(path).value()), "first");
  int files = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator(dir)) ++files;
  EXPECT_EQ(files, 1);  // the refused write left no temporary file
  std::filesystem::remove_all(dir);
}

TEST(File, MapFileSeesTheBytesAndMissingFilesAreClearErrors) {
  auto dir = temp_dir();
  auto path = dir / "m.bin";
  ASSERT_TRUE(write_file_durable(path, as_bytes("mapped bytes")).has_value());
  auto m = map_file(path);
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(as_chars(m->span()), "mapped bytes");
  auto missing = map_file(dir / "nope");
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code, ErrorCode::kIo);
  EXPECT_NE(missing.error().message.find("nope"), std::string::npos);
  auto too_big = read_file(path, 3);
  ASSERT_FALSE(too_big.has_value());
  EXPECT_EQ(too_big.error().code, ErrorCode::kOutOfRange);
  std::filesystem::remove_all(dir);
}

TEST(File, ReadFileReadsProcfsFilesThatSayTheyAreEmpty) {
  // /proc/self/status is a few KB but stat() says 0 bytes.
  auto all = read_file("/proc/self/status", 1 << 20);
  ASSERT_TRUE(all) << all.error().message;
  EXPECT_GT(all->size(), 200u);
  EXPECT_NE(std::string(reinterpret_cast<const char*>(all->data()), all->size()).find("Name:"), std::string::npos);
  auto capped = read_file("/proc/self/status", 100);
  ASSERT_FALSE(capped);
  EXPECT_EQ(capped.error().code, ErrorCode::kOutOfRange);
}

TEST(Hash, Sha256OfAbcMatchesTheStandardVector) {
  EXPECT_EQ(to_hex(sha256(as_bytes("abc"))), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Hash, Sha256HasherInPiecesEqualsOneShot) {
  const std::string text = "the quick brown fox jumps over the lazy dog, in pieces of any size";
  for (size_t cut : {size_t{0}, size_t{1}, size_t{13}, text.size()}) {
    Sha256Hasher h;
    h.update(as_bytes(std::string_view(text).substr(0, cut)));
    h.update(as_bytes(std::string_view(text).substr(cut)));
    EXPECT_EQ(h.finish(), sha256(as_bytes(text))) << cut;
  }
}

TEST(File, DurableFileWriterCommitsAtomicallyAndCleansUpWhenAbandoned) {
  auto dir = temp_dir() / "writer";
  std::filesystem::create_directories(dir);
  auto path = dir / "model.edge";
  ASSERT_TRUE(write_file_durable(path, as_bytes("old")));
  {
    auto w = DurableFileWriter::create(path);
    ASSERT_TRUE(w);
    ASSERT_TRUE(w->write(as_bytes("new ")));
    ASSERT_TRUE(w->write(as_bytes("content")));
    EXPECT_EQ(w->bytes_written(), 11u);
    EXPECT_EQ(as_chars(*read_file(path)), "old");  // nothing visible before commit
    ASSERT_TRUE(w->commit());
    EXPECT_FALSE(w->write(as_bytes("more")));  // spent
  }
  EXPECT_EQ(as_chars(*read_file(path)), "new content");
  {
    auto w = DurableFileWriter::create(path);
    ASSERT_TRUE(w);
    ASSERT_TRUE(w->write(as_bytes("abandoned")));
  }  // destroyed without commit
  EXPECT_EQ(as_chars(*read_file(path)), "new content");
  int files = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator(dir)) ++files;
  EXPECT_EQ(files, 1);
  EXPECT_FALSE(DurableFileWriter::create(dir / "no-such-folder" / "x"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace edgeloop
