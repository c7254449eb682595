package engine

import (
	"bytes"
	"io"
	"os"
)

// spoolInMemory is how much a spool keeps in memory before it moves to a temporary file.
const spoolInMemory = 8 << 20

// spool keeps what is written to it, in memory while it is small and in a temporary file beyond,
// to be read back (more than once: a retried transaction reads it again).
type spool struct {
	mem  bytes.Buffer
	file *os.File
}

func newSpool() *spool { return &spool{} }

func (s *spool) Write(p []byte) (int, error) {
	if s.file == nil && s.mem.Len()+len(p) > spoolInMemory {
		f, err := os.CreateTemp("", "pgforce-poll-*")
		if err != nil {
			return 0, err
		}
		_ = os.Remove(f.Name()) // gone once closed
		if _, err := f.Write(s.mem.Bytes()); err != nil {
			f.Close()
			return 0, err
		}
		s.file = f
		s.mem = bytes.Buffer{}
	}
	if s.file != nil {
		return s.file.Write(p)
	}
	return s.mem.Write(p)
}

// empty reports whether nothing was written.
func (s *spool) empty() bool { return s.file == nil && s.mem.Len() == 0 }

// Reader reads everything written, from the start.
func (s *spool) Reader() (io.Reader, error) {
	if s.file == nil {
		return bytes.NewReader(s.mem.Bytes()), nil
	}
	if _, err := s.file.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	return s.file, nil
}

// Close removes the temporary file, if any.
func (s *spool) Close() error {
	if s.file != nil {
		return s.file.Close()
	}
	return nil
}
