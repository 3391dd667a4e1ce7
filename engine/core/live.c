// SPDX-License-Identifier: MIT
/*
 * live.c - the live loops of the process, so a thread holding a loop
 * pointer can post to it without ever dereferencing a freed loop.
 *
 * tide_loop_post() may race tide_loop_free() on another thread.  The poster
 * never trusts its pointer: it looks the loop up here under a read lock and
 * holds that lock for the whole post; free removes the loop under the write
 * lock, which waits for posts in progress, and only then lets go of what a
 * post touches.  A lookup compares pointers (and, for the library's own
 * posts, a 64-bit id that is never reused) before any dereference.
 *
 * The locks prefer writers: a stream of posts cannot hold a free off.
 */
#include <stdint.h>

#include "loop_impl.h"

#define REG_SHARDS 16u

struct reg_shard {
	pthread_rwlock_t lock;
	struct tide_loop *head;
};

#define SHARD                                                           \
	{                                                               \
		PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP, NULL \
	}
#define SHARD4 SHARD, SHARD, SHARD, SHARD
static struct reg_shard shards[REG_SHARDS] = { SHARD4, SHARD4, SHARD4, SHARD4 };
static uint64_t next_id = 1;

static struct reg_shard *shard_of(const struct tide_loop *loop)
{
	uintptr_t p = (uintptr_t)loop;

	return &shards[((p >> 6) ^ (p >> 14)) % REG_SHARDS];
}

void tide__live_add(struct tide_loop *loop)
{
	struct reg_shard *s = shard_of(loop);

	loop->live_id = __atomic_fetch_add(&next_id, 1, __ATOMIC_RELAXED);
	pthread_rwlock_wrlock(&s->lock);
	loop->live_next = s->head;
	s->head = loop;
	pthread_rwlock_unlock(&s->lock);
}

void tide__live_del(struct tide_loop *loop)
{
	struct reg_shard *s = shard_of(loop);
	struct tide_loop **pp;

	pthread_rwlock_wrlock(&s->lock);
	for (pp = &s->head; *pp; pp = &(*pp)->live_next)
		if (*pp == loop) {
			*pp = loop->live_next;
			break;
		}
	pthread_rwlock_unlock(&s->lock);
	loop->live_next = NULL;
}

bool tide__live_enter(const struct tide_loop *loop, uint64_t id)
{
	struct reg_shard *s = shard_of(loop);
	struct tide_loop *l;

	if (pthread_rwlock_rdlock(&s->lock))
		return false;
	for (l = s->head; l; l = l->live_next)
		if (l == loop && (!id || l->live_id == id))
			return true;
	pthread_rwlock_unlock(&s->lock);
	return false;
}

void tide__live_leave(const struct tide_loop *loop)
{
	pthread_rwlock_unlock(&shard_of(loop)->lock);
}
