/**
 * Which reply topics exist, from the broker's topic list, listed again at
 * most every `refreshMs` and only when a name is not known yet: requests
 * keep naming the same few tenants' topics, so nearly every call is answered
 * from the cache.
 *
 * @example
 * ```ts
 * const existing = replyTopicChecker(() => admin.listTopics());
 * (await existing(["analysis-responses.tenant-a"])).has("analysis-responses.tenant-a");
 * ```
 */
export function replyTopicChecker(
  list: () => Promise<string[]>,
  refreshMs = 5000,
  now: () => number = Date.now,
): (topics: string[]) => Promise<ReadonlySet<string>> {
  let known = new Set<string>();
  let listedAt = -Infinity;
  let listing: Promise<void> | undefined;
  return async (topics) => {
    if (topics.some((t) => !known.has(t)) && now() - listedAt >= refreshMs) {
      listing ??= list().then((names) => {
        known = new Set(names);
        listedAt = now();
      }).finally(() => (listing = undefined));
      await listing;
    }
    return new Set(topics.filter((t) => known.has(t)));
  };
}
