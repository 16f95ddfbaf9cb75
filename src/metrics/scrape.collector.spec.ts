import { Counter, Registry } from 'prom-client';
import { TotalFollower } from './scrape.collector';

describe('TotalFollower', () => {
  const setup = () => {
    const counter = new Counter({ name: 'followed_total', help: 'h', registers: [new Registry()] });
    const value = async () => (await counter.get()).values[0]?.value ?? 0;
    return { follower: new TotalFollower(counter), value };
  };

  it('follows a running total', async () => {
    const { follower, value } = setup();
    follower.follow(3);
    follower.follow(3);
    follower.follow(10);
    expect(await value()).toBe(10);
  });

  it('never goes back when the source resets (new backend, flushed Redis): the new total counts as fresh', async () => {
    const { follower, value } = setup();
    follower.follow(10);
    follower.follow(2);
    expect(await value()).toBe(12);
    follower.follow(5);
    expect(await value()).toBe(15);
  });
});
