import { parentsFirst } from '../../src/contacts/directory';

describe('GET /v1/contacts/departments order', () => {
  it('when departments arrive in any order, then each comes after its parent, siblings by order, and none is lost', () => {
    const d = (id: number, parentId: number | undefined, order = 0) => ({ id, name: `d${id}`, parentId, order });
    const sorted = parentsFirst([d(3, 2), d(2, 5, 2), d(4, 5, 1), d(5, 1), d(10, 11), d(11, 10), d(9, 9)]);
    // 1 is not in the mirror, so 5 is a root; 10 and 11 point at each other and still appear.
    expect(sorted.map((x) => x.id)).toEqual([5, 4, 2, 3, 9, 10, 11]);
  });
});
