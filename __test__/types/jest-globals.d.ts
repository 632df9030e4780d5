// The few Jest globals the README's testing example uses (no @types/jest needed here).
declare function beforeAll(fn: () => unknown): void
declare function afterAll(fn: () => unknown): void
declare function test(name: string, fn: () => unknown): void
declare function expect(value: unknown): any
