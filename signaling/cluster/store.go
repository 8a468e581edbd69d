package cluster

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"conclave/signaling/store"
)

// RedisStore is the meetings store of a cluster: every node must find a
// meeting created through any other. Like store.SQLite it keeps only the
// SHA-256 of each room ID, with its creation and last join times; a meeting
// nobody joins for the retention period expires by itself.
type RedisStore struct {
	rdb       *redis.Client
	p         string
	retention time.Duration
}

var _ store.Store = (*RedisStore)(nil)

// NewRedisStore returns a store in rdb under prefix (default "conclave:")
// that forgets meetings idle for retention.
func NewRedisStore(rdb *redis.Client, prefix string, retention time.Duration) *RedisStore {
	if prefix == "" {
		prefix = "conclave:"
	}
	return &RedisStore{rdb: rdb, p: prefix, retention: retention}
}

func (s *RedisStore) key(hash [32]byte) string { return s.p + "meeting:" + hex.EncodeToString(hash[:]) }

// CreateMeeting implements store.Store.
func (s *RedisStore) CreateMeeting(ctx context.Context, hash [32]byte, now time.Time) error {
	ok, err := s.rdb.SetNX(ctx, s.key(hash), now.Unix(), s.retention).Result()
	if err != nil {
		return fmt.Errorf("cluster: create meeting: %w", err)
	}
	if !ok {
		return errors.New("cluster: create meeting: already exists")
	}
	return nil
}

// TouchMeeting implements store.Store: a join renews the retention period.
func (s *RedisStore) TouchMeeting(ctx context.Context, hash [32]byte, _ time.Time) error {
	ok, err := s.rdb.Expire(ctx, s.key(hash), s.retention).Result()
	if err != nil {
		return fmt.Errorf("cluster: touch meeting: %w", err)
	}
	if !ok {
		return store.ErrNotFound
	}
	return nil
}

// PurgeIdle implements store.Store; Redis expires idle meetings itself.
func (s *RedisStore) PurgeIdle(context.Context, time.Time) (int64, error) { return 0, nil }

// CountMeetings implements store.Store by scanning the meeting keys.
func (s *RedisStore) CountMeetings(ctx context.Context) (int64, error) {
	var n int64
	iter := s.rdb.Scan(ctx, 0, s.p+"meeting:*", 1000).Iterator()
	for iter.Next(ctx) {
		n++
	}
	if err := iter.Err(); err != nil {
		return 0, fmt.Errorf("cluster: count meetings: %w", err)
	}
	return n, nil
}

// Close implements store.Store; the Redis client belongs to the caller.
func (s *RedisStore) Close() error { return nil }
