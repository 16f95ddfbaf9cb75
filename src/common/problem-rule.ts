import { registerDecorator, ValidationArguments } from 'class-validator';

/**
 * A class-validator rule made of one function telling why a value is wrong, or null when it is
 * right. The message is the property's name and that reason: "server must be …", or, for a
 * reason naming a part of the value (it starts with "."), "storage_state.cookies must be …".
 * One constraint on the whole value, so the compiled check (fast-validation.ts) can run it.
 */
export function SatisfiesRule(name: string, problem: (value: unknown) => string | null): PropertyDecorator {
  return (target: object, propertyName: string | symbol) =>
    registerDecorator({
      name,
      target: target.constructor,
      propertyName: propertyName as string,
      validator: {
        validate: (value: unknown) => problem(value) === null,
        defaultMessage: ({ property, value }: ValidationArguments) => {
          const reason = problem(value) ?? '';
          return reason.startsWith('.') ? `${property}${reason}` : `${property} ${reason}`;
        },
      },
    });
}
