import { ApiError, UnavailableError } from '../../src/http/errors';
import { freesClaim } from '../../src/compat/duplicate-check';
import { CompatError } from '../../src/wecom/compat/answers';
import { RedisUnavailableError } from '../../src/redis/unavailable';

/** message/send's duplicate check: a failed first send frees its window only when nothing can have been recorded. */
describe('freesClaim', () => {
  it("when the first send was refused (WeCom's errcode, a 4xx of the pipeline), then the window is freed for a corrected send", () => {
    expect(freesClaim(new CompatError(44004, 'empty content'))).toBe(true);
    expect(freesClaim(new ApiError(403, 'forbidden', 'no'))).toBe(true);
    expect(freesClaim(new ApiError(429, 'rate_limited', 'later'))).toBe(true);
  });

  it('when the first send may be recorded (503, Redis away, a timeout, anything else), then the claim stays and a retry sends nothing twice', () => {
    expect(freesClaim(new UnavailableError())).toBe(false);
    expect(freesClaim(new ApiError(503, 'replicas', 'not confirmed'))).toBe(false);
    expect(freesClaim(new RedisUnavailableError(new Error('no answer within 2000 ms')))).toBe(false);
    expect(freesClaim(new Error('boom'))).toBe(false);
  });
});
