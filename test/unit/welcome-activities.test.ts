import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TemplateLoadError } from '../../src/messages/template-source';
import { loadActivities } from '../../src/welcome/activities';

const SHIPPED = join(__dirname, '..', '..', 'templates');

describe('the shipped welcome activities', () => {
  it('when a production gateway (not the sandbox) loads the shipped templates, then it has no welcome activity and no fallback', () => {
    const activities = loadActivities(SHIPPED, { sandbox: false });
    expect(activities.list).toEqual([]);
    expect(activities.fallback).toBeUndefined();
  });

  it('when the sandbox loads them, then the expo2026 demo is there, and it is no fallback (a customer of another code is not greeted with its coupon)', () => {
    const activities = loadActivities(SHIPPED, { sandbox: true });
    expect(activities.list.map((a) => a.name)).toEqual(['expo2026']);
    expect(activities.byState('expo2026')?.tags).toEqual(['etExpo2026']);
    expect(activities.fallback).toBeUndefined();
  });
});

/** A templates folder with this one welcome activity; the problems it is refused with, or 'loaded'. */
function activityProblems(text: string): { file: string; message: string } {
  const dir = mkdtempSync(join(tmpdir(), 'wgw-activities-'));
  mkdirSync(join(dir, 'welcome'));
  const file = join(dir, 'welcome', 'spring.yaml');
  writeFileSync(file, text);
  try {
    loadActivities(dir, { sandbox: false });
    return { file, message: 'loaded' };
  } catch (error) {
    expect(error).toBeInstanceOf(TemplateLoadError);
    return { file, message: (error as Error).message };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const spring = (welcome: string) => `activity: spring\nstate: spring2026\nwelcome:\n${welcome}\ntags: [etSpring]\n`;

describe('welcome activity files: what a mistake says', () => {
  it('when a welcome reads what a welcome cannot see, then it does not load, and the problem names the file, the line, the variable and what there is', () => {
    const { file, message } = activityProblems(spring('  text: |-\n    您好\n    我是 {{employee.name}}'));
    expect(message).toContain(
      `${file}:6: welcome.text: {{employee.name}} is not declared (a welcome sees ` +
        `customer.externalUserId, employee.userId, activity.name, activity.state)`,
    );
  });

  it('when a welcome has a Handlebars syntax error, then the whole message is shown with the file and line', () => {
    const { file, message } = activityProblems(spring('  text: "hi {{#if employee.userId}}"'));
    expect(message).toContain(`${file}:4: welcome.text: Parse error on line 1:`);
    expect(message).toMatch(/Expecting .*got 'EOF'/);
  });

  it('when an attachment has a msgtype WeCom does not take, or a key is misspelt, then the problem names the ones there are', () => {
    const { file, message } = activityProblems(
      `${spring('  text: hi\n  attachments:\n    - msgtype: card\n      card: { title: x }')}fallbak: true\n`,
    );
    expect(message).toContain(`${file}:6: welcome.attachments.0.msgtype: use one of image, link, miniprogram, video, file`);
    expect(message).toContain(
      `${file}:9: fallbak: not a key of a welcome activity; use one of activity, description, state, fallback, welcome, tags, employees`,
    );
  });

  it('when a welcome uses only what it sees, in text and attachments, then it loads', () => {
    const { message } = activityProblems(
      spring(
        '  text: "{{employee.userId}} {{activity.name}} {{#if customer.externalUserId}}{{customer.externalUserId}}{{/if}}"\n' +
          '  attachments:\n    - msgtype: link\n' +
          '      link: { title: "{{activity.state}}", url: "https://shop.example/?c={{customer.externalUserId}}" }',
      ),
    );
    expect(message).toBe('loaded');
  });
});
